package hk.daka.sdk.jvmtest

import java.net.ServerSocket
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.file.Files
import java.nio.file.Path
import java.time.Duration
import java.util.UUID
import java.util.concurrent.TimeUnit

/**
 * The real reference server, `daka serve`, as a child process on a loopback port with its own
 * database, seeded from `examples/seed.json`.
 *
 * [stop] sends SIGTERM (the server drains and exits); [start] again brings it back on the
 * same port over the same database, which is how the tests take a phone offline and back.
 */
class ReferenceServer private constructor(
    val port: Int,
    private val db: Path,
    private val log: Path,
) : AutoCloseable {
    private var process: Process? = null

    /** The server's base URL, as a phone would be configured with. */
    val url: String get() = "http://127.0.0.1:$port"

    companion object {
        /** The repository root (set by the pom; the default fits a run from this directory). */
        val root: Path = Path.of(System.getProperty("daka.root") ?: "../..").toAbsolutePath().normalize()

        private val bin: Path = Path.of(System.getProperty("daka.bin") ?: root.resolve("target/debug/daka").toString())

        /** The example organisation's admin token, from `examples/seed.json`. */
        const val ADMIN_TOKEN = "hl-demo-admin-token-change-me-0001"

        private val http: HttpClient = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build()

        /** Starts a server with a fresh database under [dir]. */
        fun start(dir: Path): ReferenceServer {
            Files.createDirectories(dir)
            val logs = Path.of(System.getProperty("daka.logs") ?: dir.toString())
            Files.createDirectories(logs)
            val port = freePort()
            val server = ReferenceServer(port, dir.resolve("server.db"), logs.resolve("server-$port.log"))
            server.start()
            return server
        }

        /** A port nobody listens on right now. */
        fun freePort(): Int = ServerSocket(0).use { it.localPort }
    }

    /** Starts (or restarts) the process and waits until `/health` answers. */
    fun start() {
        check(process == null) { "already running" }
        check(Files.isExecutable(bin)) { "$bin is missing: run scripts/bindings.sh first" }
        val p = ProcessBuilder(
            bin.toString(), "serve",
            "--db", db.toString(),
            "--listen", "127.0.0.1:$port",
            "--seed", root.resolve("examples/seed.json").toString(),
        ).redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
            .start()
        process = p
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30)
        while (!healthy()) {
            if (!p.isAlive) {
                process = null
                error("daka serve exited with ${p.exitValue()}:\n${Files.readString(log)}")
            }
            if (System.nanoTime() > deadline) {
                stop()
                error("daka serve did not become healthy in 30 s:\n${Files.readString(log)}")
            }
            Thread.sleep(50)
        }
    }

    /** Whether `GET /health` answers 200 now. */
    fun healthy(): Boolean = try {
        val request = HttpRequest.newBuilder(URI.create("$url/health")).timeout(Duration.ofSeconds(2)).build()
        http.send(request, HttpResponse.BodyHandlers.ofString()).statusCode() == 200
    } catch (_: java.io.IOException) {
        false
    }

    /** Stops the process (SIGTERM, then SIGKILL after 10 s) and waits for it to exit. */
    fun stop() {
        val p = process ?: return
        process = null
        p.destroy()
        if (!p.waitFor(10, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor()
        }
    }

    override fun close() = stop()

    /** Issues a one-time enrolment code for [employeeId] through the admin API. */
    fun issueCode(employeeId: String): String {
        val code = "JVM-$employeeId-${UUID.randomUUID()}"
        val body = """{"employee_id":"$employeeId","code":"$code"}"""
        val response = admin("POST", "/admin/v1/enrollment-codes", body)
        check(response.statusCode() == 201) { "issuing a code: ${response.statusCode()} ${response.body()}" }
        return code
    }

    /** Revokes [deviceId] through the admin API (`POST /admin/v1/devices/{id}/revoke`). */
    fun revokeDevice(deviceId: String, reason: String) {
        val body = """{"reason":"$reason"}"""
        val response = admin("POST", "/admin/v1/devices/$deviceId/revoke", body)
        check(response.statusCode() == 200) { "revoking $deviceId: ${response.statusCode()} ${response.body()}" }
    }

    /** `GET` on the admin API; the body as text. */
    fun adminGet(path: String): String {
        val response = admin("GET", path, null)
        check(response.statusCode() == 200) { "GET $path: ${response.statusCode()} ${response.body()}" }
        return response.body()
    }

    private fun admin(method: String, path: String, body: String?): HttpResponse<String> {
        val publisher = body?.let { HttpRequest.BodyPublishers.ofString(it) } ?: HttpRequest.BodyPublishers.noBody()
        val request = HttpRequest.newBuilder(URI.create("$url$path"))
            .timeout(Duration.ofSeconds(10))
            .header("Authorization", "Bearer $ADMIN_TOKEN")
            .header("Content-Type", "application/json")
            .method(method, publisher)
            .build()
        return http.send(request, HttpResponse.BodyHandlers.ofString())
    }
}
