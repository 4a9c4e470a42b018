// daka's `KeyStore` over the Secure Enclave.
import CryptoKit
import Foundation
import Security

/// Seals the device's 32-byte Ed25519 seed with a P-256 key that lives in the Secure Enclave:
/// ECIES (`eciesEncryptionCofactorVariableIVX963SHA256AESGCM`) to the key's public half, and
/// only the Secure Enclave can open it. daka keeps only the sealed bytes in its database.
///
/// The key is created by the first `seal` (when daka creates the device store) and only looked
/// up afterwards: if it is gone (a backup restored onto another phone; Secure Enclave keys never
/// leave the device), `open` throws `DakaError.KeyStore` and the device must be enrolled again.
/// The key is usable after the first unlock, so background sync works with the screen locked.
///
/// The Secure Enclave exists on devices only: check `isAvailable` (false in most simulators).
public final class SecureEnclaveKeyStore: KeyStore {
    /// Whether this device has a Secure Enclave.
    public static var isAvailable: Bool { SecureEnclave.isAvailable }

    private static var algorithm: SecKeyAlgorithm { .eciesEncryptionCofactorVariableIVX963SHA256AESGCM }
    private let tag: Data

    /// `tag` names the key in the Keychain.
    public init(tag: String = "hk.daka.device-key-seal") {
        self.tag = Data(tag.utf8)
    }

    public func seal(secret: Data) throws -> Data {
        let key = try existingKey() ?? createKey()
        guard let publicKey = SecKeyCopyPublicKey(key) else {
            throw DakaError.KeyStore(reason: "the Secure Enclave key has no public key")
        }
        var error: Unmanaged<CFError>?
        guard let sealed = SecKeyCreateEncryptedData(publicKey, Self.algorithm, secret as CFData, &error) else {
            throw Self.failure("seal", error)
        }
        return sealed as Data
    }

    public func `open`(sealed: Data) throws -> Data {
        guard let key = try existingKey() else {
            throw DakaError.KeyStore(
                reason: "the Secure Enclave key is missing (restored from another phone?); enrol this device again")
        }
        var error: Unmanaged<CFError>?
        guard let secret = SecKeyCreateDecryptedData(key, Self.algorithm, sealed as CFData, &error) else {
            throw Self.failure("open", error)
        }
        return secret as Data
    }

    /// Deletes the key: what "sign out and forget this device" does.
    public func deleteKey() {
        SecItemDelete([kSecClass: kSecClassKey, kSecAttrApplicationTag: tag] as CFDictionary)
    }

    private func existingKey() throws -> SecKey? {
        let query: [CFString: Any] = [
            kSecClass: kSecClassKey,
            kSecAttrApplicationTag: tag,
            kSecAttrKeyType: kSecAttrKeyTypeECSECPrimeRandom,
            kSecReturnRef: true,
        ]
        var item: CFTypeRef?
        let status = SecItemCopyMatching(query as CFDictionary, &item)
        switch status {
        case errSecSuccess:
            return (item as! SecKey)
        case errSecItemNotFound:
            return nil
        default:
            throw DakaError.KeyStore(reason: "Keychain lookup failed (OSStatus \(status))")
        }
    }

    private func createKey() throws -> SecKey {
        var error: Unmanaged<CFError>?
        guard let access = SecAccessControlCreateWithFlags(
            kCFAllocatorDefault, kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly, .privateKeyUsage, &error)
        else {
            throw Self.failure("access control", error)
        }
        let attributes: [CFString: Any] = [
            kSecAttrKeyType: kSecAttrKeyTypeECSECPrimeRandom,
            kSecAttrKeySizeInBits: 256,
            kSecAttrTokenID: kSecAttrTokenIDSecureEnclave,
            kSecPrivateKeyAttrs: [
                kSecAttrIsPermanent: true,
                kSecAttrApplicationTag: tag,
                kSecAttrAccessControl: access,
            ] as [CFString: Any],
        ]
        guard let key = SecKeyCreateRandomKey(attributes as CFDictionary, &error) else {
            throw Self.failure("key creation", error)
        }
        return key
    }

    private static func failure(_ what: String, _ error: Unmanaged<CFError>?) -> DakaError {
        let reason = error.map { ($0.takeRetainedValue() as Error).localizedDescription } ?? "unknown error"
        return DakaError.KeyStore(reason: "Secure Enclave \(what) failed: \(reason)")
    }
}
