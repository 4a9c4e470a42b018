package hk.daka.sdk.jvmtest

import com.sun.net.httpserver.HttpExchange
import com.sun.net.httpserver.HttpServer
import java.net.InetSocketAddress
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.time.Duration
import java.util.concurrent.Executors
import java.util.concurrent.atomic.AtomicReference

/**
 * A loopback HTTP proxy in front of the real reference server that passes requests through,
 * or answers them the way a failing network or server would: a 503 with `Retry-After`, a 401
 * for revoked credentials, a policy whose bytes were changed on the way, or a policy
 * endpoint that is down. The bodies are the server's own error format.
 */
class FaultProxy(private val upstream: String) : AutoCloseable {
    /** What the proxy does with the next requests. */
    sealed interface Mode {
        /** Forward everything unchanged. */
        data object Pass : Mode

        /** Answer every request 503 with `Retry-After: seconds`. */
        data class Busy(val seconds: Int) : Mode

        /** Answer every request 401, as for a revoked device. */
        data object Revoked : Mode

        /** Forward, but change one byte of the policy document on the way back. */
        data object TamperPolicy : Mode

        /** Answer `GET /v1/policy` 503 (no `Retry-After`); forward the rest. */
        data object PolicyDown : Mode
    }

    private val mode = AtomicReference<Mode>(Mode.Pass)
    private val client: HttpClient = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build()
    private val server: HttpServer = HttpServer.create(InetSocketAddress("127.0.0.1", 0), 0).apply {
        executor = Executors.newFixedThreadPool(4)
        createContext("/") { exchange -> exchange.use { handle(it) } }
        start()
    }

    /** The proxy's base URL, to configure a device with. */
    val url: String get() = "http://127.0.0.1:${server.address.port}"

    /** Switches what the proxy does from the next request on. */
    fun set(next: Mode) = mode.set(next)

    private fun handle(exchange: HttpExchange) {
        val path = exchange.requestURI.rawPath
        when (val m = mode.get()) {
            is Mode.Busy -> return answer(exchange, 503, error("server_busy", "the server is busy"), "Retry-After" to "${m.seconds}")
            Mode.Revoked -> return answer(exchange, 401, error("unauthorized", "this device's credentials were revoked"), "WWW-Authenticate" to "Bearer")
            Mode.PolicyDown -> if (path == "/v1/policy") return answer(exchange, 503, error("unavailable", "policy service down"))
            else -> {}
        }
        val body = exchange.requestBody.readAllBytes()
        val builder = HttpRequest.newBuilder(URI.create(upstream + exchange.requestURI.toString()))
            .timeout(Duration.ofSeconds(20))
            .method(exchange.requestMethod, if (body.isEmpty()) HttpRequest.BodyPublishers.noBody() else HttpRequest.BodyPublishers.ofByteArray(body))
        for (name in listOf("Authorization", "Content-Type", "Accept")) {
            exchange.requestHeaders.getFirst(name)?.let { builder.header(name, it) }
        }
        val response = client.send(builder.build(), HttpResponse.BodyHandlers.ofString())
        var text = response.body()
        if (mode.get() == Mode.TamperPolicy && path == "/v1/policy") {
            val tampered = text.replaceFirst("Causeway Bay", "Causeway Bax")
            check(tampered != text) { "the policy no longer names Causeway Bay: $text" }
            text = tampered
        }
        val headers = response.headers().firstValue("Retry-After").map { listOf("Retry-After" to it) }.orElse(emptyList())
        answer(exchange, response.statusCode(), text, *headers.toTypedArray())
    }

    private fun error(code: String, message: String) =
        """{"code":"$code","message":"$message","server_time":"${java.time.Instant.now()}"}"""

    private fun answer(exchange: HttpExchange, status: Int, body: String, vararg headers: Pair<String, String>) {
        val bytes = body.toByteArray()
        exchange.responseHeaders.add("Content-Type", "application/json")
        for ((name, value) in headers) exchange.responseHeaders.add(name, value)
        exchange.sendResponseHeaders(status, bytes.size.toLong())
        exchange.responseBody.use { it.write(bytes) }
    }

    override fun close() {
        server.stop(0)
        (server.executor as java.util.concurrent.ExecutorService).shutdownNow()
    }
}
