package hk.daka.sdk.jvmtest

import hk.daka.sdk.DakaDevice
import hk.daka.sdk.DakaException
import hk.daka.sdk.KeyStore
import java.nio.file.Path
import java.security.SecureRandom
import javax.crypto.Cipher
import javax.crypto.spec.GCMParameterSpec
import javax.crypto.spec.SecretKeySpec
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir

/**
 * The app's `KeyStore` seals the device key at rest, and whatever goes wrong in it arrives as
 * `DakaException.KeyStore`.
 */
class KeyStoreTest {
    @TempDir
    lateinit var dir: Path

    /** What an Android app does with an AES-GCM key from the Keystore, with a JCE key here. */
    class AesGcmKeyStore(private val key: ByteArray = ByteArray(32).also { SecureRandom().nextBytes(it) }) : KeyStore {
        var sealed = 0
        var opened = 0
        val secrets = mutableListOf<ByteArray>()

        override fun seal(secret: ByteArray): ByteArray {
            sealed++
            secrets += secret.copyOf()
            val iv = ByteArray(12).also { SecureRandom().nextBytes(it) }
            val cipher = Cipher.getInstance("AES/GCM/NoPadding")
            cipher.init(Cipher.ENCRYPT_MODE, SecretKeySpec(key, "AES"), GCMParameterSpec(128, iv))
            return iv + cipher.doFinal(secret)
        }

        override fun open(sealed: ByteArray): ByteArray {
            opened++
            val cipher = Cipher.getInstance("AES/GCM/NoPadding")
            cipher.init(Cipher.DECRYPT_MODE, SecretKeySpec(key, "AES"), GCMParameterSpec(128, sealed, 0, 12))
            return cipher.doFinal(sealed, 12, sealed.size - 12)
        }
    }

    @Test
    fun `the key is sealed once, opened on every start, and stays the same key`() {
        val keys = AesGcmKeyStore()
        val path = dir.resolve("sealed.db").toString()
        val publicKey = DakaDevice.open(path, keys).use { it.publicKey() }
        assertEquals(1, keys.sealed)
        assertEquals(0, keys.opened)
        assertEquals(32, keys.secrets.single().size, "the Ed25519 seed")
        DakaDevice.open(path, keys).use { assertEquals(publicKey, it.publicKey()) }
        assertEquals(1, keys.sealed)
        assertEquals(1, keys.opened)
        // Another device's key store cannot open it (AES-GCM authenticates).
        val e = assertThrows<DakaException.KeyStore> { DakaDevice.open(path, AesGcmKeyStore()) }
        assertTrue(e.reason.contains("AEADBadTagException") || e.reason.contains("Tag mismatch"), e.reason)
    }

    @Test
    fun `a DakaException thrown by the key store keeps its reason`() {
        val path = dir.resolve("locked.db").toString()
        DakaDevice.open(path, AesGcmKeyStore()).close()
        val locked = object : KeyStore {
            override fun seal(secret: ByteArray): ByteArray = throw DakaException.KeyStore("unused")
            override fun open(sealed: ByteArray): ByteArray = throw DakaException.KeyStore("user not authenticated")
        }
        val e = assertThrows<DakaException.KeyStore> { DakaDevice.open(path, locked) }
        assertEquals("user not authenticated", e.reason)
    }

    @Test
    fun `any other exception from the key store is a KeyStore error too, not a crash`() {
        val broken = object : KeyStore {
            override fun seal(secret: ByteArray): ByteArray = throw IllegalStateException("keystore daemon gone")
            override fun open(sealed: ByteArray): ByteArray = error("unused")
        }
        val e = assertThrows<DakaException.KeyStore> { DakaDevice.open(dir.resolve("broken.db").toString(), broken) }
        assertTrue(e.reason.contains("keystore daemon gone"), e.reason)
        assertTrue(e.toString().contains("keystore daemon gone"), e.toString())
    }

    @Test
    fun `a key store that returns the wrong number of bytes is refused`() {
        val path = dir.resolve("short.db").toString()
        DakaDevice.open(path, AesGcmKeyStore()).close()
        val short = object : KeyStore {
            override fun seal(secret: ByteArray) = secret
            override fun open(sealed: ByteArray) = ByteArray(16)
        }
        val e = assertThrows<DakaException.KeyStore> { DakaDevice.open(path, short) }
        assertTrue(e.reason.contains("16 bytes"), e.reason)
    }

    @Test
    fun `without a key store the seed is stored as it is`() {
        val path = dir.resolve("plain.db").toString()
        val first = DakaDevice.open(path, null).use { it.publicKey() }
        val again = DakaDevice.open(path, null).use { it.publicKey() }
        assertEquals(first, again)
        val other = DakaDevice.open(dir.resolve("other.db").toString(), null).use { it.publicKey() }
        assertNotEquals(first, other, "every store has its own key")
        assertFalse(first.isEmpty())
    }
}
