package hk.daka.android

import android.content.Context
import hk.daka.sdk.DakaDevice
import java.io.File

/**
 * Implemented by the app's `Application` to hand daka's background job (and anything else that
 * only has a `Context`) the app's one [DakaDevice]. Opening a second `DakaDevice` on the same
 * file in the same process would run two sync loops and two listeners over one queue.
 */
interface DakaDeviceProvider {
    /** The app's one device; called off the main thread, and may open it on first use. */
    fun dakaDevice(): DakaDevice
}

/**
 * The process-wide holder of the app's one [DakaDevice].
 *
 * [device] asks the `Application` when it implements [DakaDeviceProvider]; otherwise it opens,
 * once per process, the default store [defaultDatabase] with [AndroidKeystoreKeyStore].
 */
object Daka {
    @Volatile
    private var opened: DakaDevice? = null

    /**
     * The app's one device. Blocking (the first call opens SQLite and unseals the key with the
     * Keystore): call it off the main thread. Throws `DakaException` (`Storage`, `KeyStore`)
     * when the store cannot be opened.
     */
    fun device(context: Context): DakaDevice {
        val app = context.applicationContext
        if (app is DakaDeviceProvider) return app.dakaDevice()
        opened?.let { return it }
        return synchronized(this) {
            opened ?: DakaDevice.open(defaultDatabase(app).path, AndroidKeystoreKeyStore()).also { opened = it }
        }
    }

    /**
     * `no_backup/daka/daka.db`: the directory Android never backs up or transfers, so the
     * database and its `-wal` and `-shm` files stay on this phone together with the Keystore
     * key that seals the device key.
     */
    fun defaultDatabase(context: Context): File =
        File(context.noBackupFilesDir, "daka").apply { mkdirs() }.resolve("daka.db")
}
