package hk.daka.sample

import android.app.Application

/**
 * Holds the one [ClockModel] of the process: one `DakaDevice` per database file, shared by
 * every screen and surviving activity restarts (rotation).
 */
class SampleApp : Application() {
    val model: ClockModel by lazy { ClockModel(this) }
}
