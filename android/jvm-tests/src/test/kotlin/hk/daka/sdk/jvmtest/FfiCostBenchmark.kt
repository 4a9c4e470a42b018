package hk.daka.sdk.jvmtest

import hk.daka.sdk.DakaDevice
import hk.daka.sdk.Fix
import hk.daka.sdk.Presence
import hk.daka.sdk.PunchInput
import hk.daka.sdk.PunchKind
import java.nio.file.Files
import java.nio.file.Path
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

/**
 * The Kotlin half of the FFI cost benchmark (scripts/ffi-bench.sh): `checkLocation` through
 * the generated bindings and JNA, timed over many calls. It leaves its enrolled device
 * database for the Rust half (bindings/benches/ffi_cost.rs), which times the same check on the
 * same database without the FFI.
 *
 * Not part of the normal test run (the pom excludes it); run with `-Dtest=FfiCostBenchmark`.
 */
class FfiCostBenchmark {
    private companion object {
        const val WARMUP = 5_000
        const val CALLS = 20_000
        const val ROUNDS = 5
    }

    /** Median over [ROUNDS] of the mean time per call, in microseconds. */
    private fun timePerCall(call: () -> Unit): Double {
        repeat(WARMUP) { call() }
        val rounds = (1..ROUNDS).map {
            val start = System.nanoTime()
            repeat(CALLS) { call() }
            (System.nanoTime() - start) / 1_000.0 / CALLS
        }.sorted()
        return rounds[ROUNDS / 2]
    }

    @Test
    fun `checkLocation through the bindings`() {
        val db = Path.of(System.getProperty("daka.bench.db"))
        val out = Path.of(System.getProperty("daka.bench.out"))
        Files.createDirectories(db.parent)
        for (suffix in listOf("", "-wal", "-shm")) Files.deleteIfExists(Path.of("$db$suffix"))

        ReferenceServer.start(db.parent.resolve("server")).use { server ->
            DakaDevice.open(db.toString(), null).use { device ->
                runBlocking { device.enroll(server.url, server.issueCode("E1001"), "benchmark", "android") }
                // The same input as the Rust half: inside the store, ±5 m, no Wi-Fi, no face token.
                val input = PunchInput(
                    kind = PunchKind.IN,
                    fix = Fix(
                        lat = Places.STORE_LAT,
                        lon = Places.STORE_LON,
                        accuracyM = 5.0,
                        timeMs = System.currentTimeMillis(),
                        monotonicMs = null,
                        mock = false,
                        provider = "gps",
                    ),
                )
                assertEquals(Presence.INSIDE, device.checkLocation(input).presence)
                var sink = 0
                val micros = timePerCall { sink += device.checkLocation(input).reasons.size }
                // The smallest call there is, for the fixed cost of one crossing: a 43-character
                // string back, no argument.
                val fixed = timePerCall { sink += device.publicKey().length }
                assertTrue(micros > 0.0 && fixed > 0.0 && sink > 0)
                println("kotlin checkLocation (JNA)        %8.2f µs/call".format(micros))
                println("kotlin publicKey (JNA)            %8.2f µs/call".format(fixed))
                Files.writeString(out, "kotlin_ffi_us=%.3f\nkotlin_public_key_us=%.3f\n".format(micros, fixed))
            }
        }
    }
}
