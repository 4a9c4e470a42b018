package hk.daka.android

import android.os.Build
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import android.security.keystore.StrongBoxUnavailableException
import hk.daka.sdk.DakaException
import java.security.GeneralSecurityException
import java.security.ProviderException
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec
import hk.daka.sdk.KeyStore as DakaKeyStore
import java.security.KeyStore as JcaKeyStore

/**
 * daka's [DakaKeyStore] over the Android Keystore: an AES-256-GCM key that never leaves the
 * Keystore (StrongBox when the phone has one, else the TEE) seals the device's 32-byte Ed25519
 * seed, and daka keeps only the sealed bytes in its database.
 *
 * Sealed format: one version byte (1), the 12-byte IV the Keystore chose, then the ciphertext
 * with its 16-byte GCM tag.
 *
 * The key is created by the first [seal] (when daka creates the device store) and only looked
 * up afterwards: if it is gone (app data restored onto another phone, the user cleared the
 * credential storage), [open] fails with `DakaException.KeyStore` and the device must be
 * enrolled again. Every failure is reported as `DakaException.KeyStore` with the reason.
 *
 * Called by daka when a device store is created or opened, on the thread that calls
 * `DakaDevice.open`: keep that off the main thread (StrongBox takes tens of milliseconds).
 */
class AndroidKeystoreKeyStore(
    private val alias: String = DEFAULT_ALIAS,
    private val preferStrongBox: Boolean = true,
) : DakaKeyStore {

    override fun seal(secret: ByteArray): ByteArray = guarded("seal") {
        val cipher = Cipher.getInstance(TRANSFORMATION)
        // The Keystore picks a random IV itself (it refuses caller-chosen IVs by default).
        cipher.init(Cipher.ENCRYPT_MODE, existingKey() ?: createKey())
        val iv = cipher.iv
        if (iv.size != IV_BYTES) {
            throw DakaException.KeyStore("the Keystore chose a ${iv.size}-byte IV, expected $IV_BYTES")
        }
        byteArrayOf(FORMAT_VERSION) + iv + cipher.doFinal(secret)
    }

    override fun open(sealed: ByteArray): ByteArray = guarded("open") {
        if (sealed.size < 1 + IV_BYTES + TAG_BITS / 8 || sealed[0] != FORMAT_VERSION) {
            throw DakaException.KeyStore(
                "sealed key has an unknown format (${sealed.size} bytes, version ${sealed.firstOrNull()})",
            )
        }
        val key = existingKey() ?: throw DakaException.KeyStore(
            "Keystore key '$alias' is missing (data restored to another phone, or the key was " +
                "deleted); enrol this device again",
        )
        val cipher = Cipher.getInstance(TRANSFORMATION)
        cipher.init(Cipher.DECRYPT_MODE, key, GCMParameterSpec(TAG_BITS, sealed, 1, IV_BYTES))
        cipher.doFinal(sealed, 1 + IV_BYTES, sealed.size - 1 - IV_BYTES)
    }

    /** Deletes the Keystore key: what "sign out and forget this device" does. */
    fun deleteKey() {
        guarded("delete") { keystore().deleteEntry(alias) }
    }

    private fun keystore(): JcaKeyStore = JcaKeyStore.getInstance(PROVIDER).apply { load(null) }

    private fun existingKey(): SecretKey? = keystore().getKey(alias, null) as SecretKey?

    private fun createKey(): SecretKey {
        if (preferStrongBox && Build.VERSION.SDK_INT >= Build.VERSION_CODES.P) {
            try {
                return generate(strongBox = true)
            } catch (_: StrongBoxUnavailableException) {
                // No StrongBox on this phone: the TEE-backed key below.
            }
        }
        return generate(strongBox = false)
    }

    private fun generate(strongBox: Boolean): SecretKey {
        val spec = KeyGenParameterSpec.Builder(
            alias,
            KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT,
        )
            .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
            .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
            .setKeySize(256)
        if (strongBox && Build.VERSION.SDK_INT >= Build.VERSION_CODES.P) {
            spec.setIsStrongBoxBacked(true)
        }
        val generator = KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, PROVIDER)
        generator.init(spec.build())
        return generator.generateKey()
    }

    /** Runs [block], turning every Keystore or JCA failure into `DakaException.KeyStore`. */
    private inline fun <T> guarded(what: String, block: () -> T): T =
        try {
            block()
        } catch (e: DakaException) {
            throw e
        } catch (e: GeneralSecurityException) {
            throw DakaException.KeyStore("Android Keystore $what failed: $e")
        } catch (e: ProviderException) {
            throw DakaException.KeyStore("Android Keystore $what failed: $e")
        } catch (e: java.io.IOException) {
            throw DakaException.KeyStore("Android Keystore $what failed: $e")
        }

    companion object {
        /** The Keystore alias used unless one is given. */
        const val DEFAULT_ALIAS = "hk.daka.device-key-seal"
        private const val PROVIDER = "AndroidKeyStore"
        private const val TRANSFORMATION = "AES/GCM/NoPadding"
        private const val IV_BYTES = 12
        private const val TAG_BITS = 128
        private const val FORMAT_VERSION: Byte = 1
    }
}
