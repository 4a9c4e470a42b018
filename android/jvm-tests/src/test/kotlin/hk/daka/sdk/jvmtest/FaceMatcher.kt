package hk.daka.sdk.jvmtest

import java.nio.file.Files
import java.security.KeyFactory
import java.security.PrivateKey
import java.security.Signature
import java.security.spec.EdECPrivateKeySpec
import java.security.spec.NamedParameterSpec
import java.util.Base64

/**
 * A face matcher as a vendor would write one: it signs its match result as a compact JWS
 * (EdDSA over Ed25519) with the JDK's own `Signature.getInstance("Ed25519")`, from the
 * demonstration key `examples/keys/face-matcher-ed25519.private.jwk` that the example policy
 * trusts. Nothing here shares code with daka's Rust verifier.
 */
object FaceMatcher {
    const val KID = "hl-face-device-2026-01"
    const val ISSUER = "https://face.harbour-lane.example/device"

    private val b64: Base64.Encoder = Base64.getUrlEncoder().withoutPadding()

    private val key: PrivateKey by lazy {
        val jwk = Files.readString(ReferenceServer.root.resolve("examples/keys/face-matcher-ed25519.private.jwk"))
        fun member(name: String) = Regex("\"$name\"\\s*:\\s*\"([^\"]+)\"").find(jwk)?.groupValues?.get(1)
            ?: error("JWK member $name missing")
        check(member("kid") == KID && member("crv") == "Ed25519")
        val seed = Base64.getUrlDecoder().decode(member("d"))
        KeyFactory.getInstance("Ed25519").generatePrivate(EdECPrivateKeySpec(NamedParameterSpec.ED25519, seed))
    }

    /** A signed match result for [subject] carrying daka's [nonce]. */
    fun token(
        subject: String,
        nonce: String,
        score: Double = 0.96,
        issuedAtSeconds: Long = System.currentTimeMillis() / 1000,
        lifetimeSeconds: Long = 60,
    ): String {
        val header = """{"alg":"EdDSA","kid":"$KID","typ":"JWT"}"""
        val claims = """{"iss":"$ISSUER","sub":"$subject","nonce":"$nonce","iat":$issuedAtSeconds,""" +
            """"exp":${issuedAtSeconds + lifetimeSeconds},"score":$score,"liveness":"pass","model":"jvm-test-matcher-1"}"""
        val signingInput = b64.encodeToString(header.toByteArray()) + "." + b64.encodeToString(claims.toByteArray())
        val signature = Signature.getInstance("Ed25519").run {
            initSign(key)
            update(signingInput.toByteArray(Charsets.US_ASCII))
            sign()
        }
        check(signature.size == 64)
        return signingInput + "." + b64.encodeToString(signature)
    }
}
