//! X.509 certificate chains checked up to configured roots, shared by the verifiers whose
//! attestations are certificate chains ([`crate::app_attest`] and [`crate::key_attestation`]).
//!
//! Certificates are parsed with `x509-parser` and their signatures verified with `ring`. A chain
//! is checked leaf first: each certificate is issued and signed by the next one and the last by
//! one of the configured roots; each issuer is a CA by its basic constraints, allows certificate
//! signing if it has a key usage, and keeps its path length constraint; every certificate, the
//! root included, is valid at the time given. [`ChainRules`] says which signatures a verifier
//! accepts, how it names certificates in errors, and whether the leaf's own issuer may be an
//! end-entity certificate.
//!
//! Not checked: revocation, name constraints, policies, unknown critical extensions, extended
//! key usage, and anything else of general X.509 path validation beyond the list above.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use x509_parser::certificate::X509Certificate;
use x509_parser::pem::Pem;
use x509_parser::x509::AlgorithmIdentifier;

use crate::{AttestationError, not_authentic};

pub(crate) const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_CURVE_P256: &str = "1.2.840.10045.3.1.7";
pub(crate) const OID_CURVE_P384: &str = "1.3.132.0.34";
const OID_ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const OID_ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";
pub(crate) const OID_RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const OID_SHA256_WITH_RSA: &str = "1.2.840.113549.1.1.11";

/// Base64 as devices may send it: padding optional, in either alphabet.
const BASE64_STANDARD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const BASE64_URL_SAFE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes base64 in the standard or the URL-safe alphabet (the latter if `text` has `-` or
/// `_`), padding optional.
pub(crate) fn decode_base64(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    let engine = if text.contains(['-', '_']) {
        &BASE64_URL_SAFE
    } else {
        &BASE64_STANDARD
    };
    engine.decode(text)
}

/// The signature algorithms a chain may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signatures {
    /// ECDSA on P-256 or P-384 with SHA-256 or SHA-384.
    Ecdsa,
    /// ECDSA as above, or RSA PKCS#1 v1.5 with SHA-256 and a key of 2048 to 8192 bits.
    EcdsaOrRsa,
}

/// How a verifier checks and names the certificates of its chains.
pub(crate) struct ChainRules<'r> {
    /// The signature algorithms accepted.
    pub(crate) signatures: Signatures,
    /// The name of the chain's certificate at an index, for errors (`x5c[1]`).
    pub(crate) name: &'r dyn Fn(usize) -> String,
    /// Whether the leaf's issuer, when it is in the chain rather than a configured root, may be
    /// an end-entity certificate (no CA basic constraints, no certificate signing in its key
    /// usage). Every other issuer must be a CA.
    pub(crate) leaf_issuer_may_be_end_entity: bool,
    /// Whether every certificate's validity period must contain the time given. Android key
    /// attestation chains are checked without it, as Google's own verifier does: factory-made
    /// intermediates expire while their phones stay in use, and a leaf's dates come from the
    /// phone's clock.
    pub(crate) check_dates: bool,
}

/// Parses one DER certificate with nothing after it; the error completes a sentence whose
/// subject is the certificate ("is not a DER X.509 certificate: …").
pub(crate) fn parse_certificate(der: &[u8]) -> Result<X509Certificate<'_>, String> {
    match x509_parser::parse_x509_certificate(der) {
        Ok(([], certificate)) => Ok(certificate),
        Ok((rest, _)) => Err(format!("is followed by {} bytes", rest.len())),
        Err(error) => Err(format!("is not a DER X.509 certificate: {error}")),
    }
}

/// The DER of the single certificate in `pem`.
pub(crate) fn pem_certificate_der(pem: &str) -> Result<Vec<u8>, String> {
    let blocks = pem_blocks(pem)?;
    let [block] = blocks.as_slice() else {
        return Err(format!(
            "expected one PEM certificate, found {} PEM blocks",
            blocks.len()
        ));
    };
    certificate_block_der(block)
}

/// The DER of each certificate in `pem`: one or more `CERTIFICATE` blocks, each parsing (text
/// outside the blocks is ignored).
pub(crate) fn pem_certificates_der(pem: &str) -> Result<Vec<Vec<u8>>, String> {
    let blocks = pem_blocks(pem)?;
    if blocks.is_empty() {
        return Err("expected PEM certificates, found no PEM block".to_string());
    }
    blocks
        .iter()
        .enumerate()
        .map(|(index, block)| {
            certificate_block_der(block).map_err(|error| format!("PEM block {index}: {error}"))
        })
        .collect()
}

fn pem_blocks(pem: &str) -> Result<Vec<Pem>, String> {
    Pem::iter_from_buffer(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| format!("not PEM: {error}"))
}

fn certificate_block_der(block: &Pem) -> Result<Vec<u8>, String> {
    if block.label != "CERTIFICATE" {
        return Err(format!("expected a PEM CERTIFICATE, found {}", block.label));
    }
    parse_certificate(&block.contents).map_err(|error| format!("the certificate {error}"))?;
    Ok(block.contents.clone())
}

/// Checks `certificates` (leaf first) up to one of `roots`: each certificate is issued and
/// signed by the next, the last by a root, and (when [`ChainRules::check_dates`]) all of them,
/// the root included, are valid at `now` (Unix seconds). Errors are [`AttestationError::NotAuthentic`], naming the certificate.
pub(crate) fn verify_chain(
    certificates: &[X509Certificate<'_>],
    roots: &[X509Certificate<'_>],
    now: i64,
    rules: &ChainRules<'_>,
) -> Result<(), AttestationError> {
    let mut anchor = None;
    for (index, certificate) in certificates.iter().enumerate() {
        let name = (rules.name)(index);
        match certificates.get(index + 1) {
            Some(issuer) => {
                let issuer_name = (rules.name)(index + 1);
                let may_be_end_entity = index == 0 && rules.leaf_issuer_may_be_end_entity;
                let ca_below = (!may_be_end_entity).then_some(index);
                check_issued_by(certificate, &name, issuer, &issuer_name, ca_below, rules)
                    .map_err(not_authentic)?;
            }
            None => {
                anchor = Some(issuing_root(certificate, &name, roots, index, rules)?);
            }
        }
        if rules.check_dates {
            check_validity(certificate, &name, now).map_err(not_authentic)?;
        }
    }
    let Some(root) = anchor else {
        return Err(not_authentic("the chain has no certificate"));
    };
    if rules.check_dates {
        check_validity(root, &root_name(roots, root), now).map_err(not_authentic)?;
    }
    Ok(())
}

/// What a configured root is called in errors: `the configured root` when there is one, with
/// its subject when there are several.
fn root_name(roots: &[X509Certificate<'_>], root: &X509Certificate<'_>) -> String {
    if roots.len() == 1 {
        "the configured root".to_string()
    } else {
        format!("the configured root `{}`", root.subject())
    }
}

/// The configured root that issued and signed `certificate` (the chain's last, `below`
/// certificates above its leaf). Roots named as its issuer are tried in turn; if none
/// verifies, the first one's failure is reported.
fn issuing_root<'r, 'a>(
    certificate: &X509Certificate<'_>,
    name: &str,
    roots: &'r [X509Certificate<'a>],
    below: usize,
    rules: &ChainRules<'_>,
) -> Result<&'r X509Certificate<'a>, AttestationError> {
    let mut first_error = None;
    for root in roots {
        if root.subject().as_raw() != certificate.issuer().as_raw() {
            continue;
        }
        let root_name = root_name(roots, root);
        match check_issued_by(certificate, name, root, &root_name, Some(below), rules) {
            Ok(()) => return Ok(root),
            Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
    Err(not_authentic(first_error.unwrap_or_else(|| match roots {
        [root] => format!(
            "{name} names `{}` as its issuer, but the configured root is `{}`",
            certificate.issuer(),
            root.subject()
        ),
        _ => format!(
            "{name} names `{}` as its issuer, which is none of the {} configured roots",
            certificate.issuer(),
            roots.len()
        ),
    })))
}

/// `certificate` names `issuer` as its issuer and is signed with its key; with `ca_below`,
/// `issuer` is also a CA that allows that many intermediate certificates under it
/// ([`check_ca`]).
fn check_issued_by(
    certificate: &X509Certificate<'_>,
    name: &str,
    issuer: &X509Certificate<'_>,
    issuer_name: &str,
    ca_below: Option<usize>,
    rules: &ChainRules<'_>,
) -> Result<(), String> {
    if certificate.issuer().as_raw() != issuer.subject().as_raw() {
        return Err(format!(
            "{name} names `{}` as its issuer, but {issuer_name} is `{}`",
            certificate.issuer(),
            issuer.subject()
        ));
    }
    if let Some(below) = ca_below {
        check_ca(issuer, issuer_name, below)?;
    }
    verify_signature(certificate, issuer, rules.signatures)
        .map_err(|reason| format!("{name}: {reason}"))
}

/// `certificate` is a CA by its basic constraints, with a path length constraint (if any)
/// allowing the `below` intermediate certificates under it, and, if it has a key usage, may
/// sign certificates.
pub(crate) fn check_ca(
    certificate: &X509Certificate<'_>,
    name: &str,
    below: usize,
) -> Result<(), String> {
    let constraints = certificate
        .basic_constraints()
        .map_err(|error| format!("{name} has unreadable basic constraints: {error}"))?;
    let Some(constraints) = constraints.filter(|constraints| constraints.value.ca) else {
        return Err(format!("{name} issues a certificate but is not a CA"));
    };
    if let Some(limit) = constraints.value.path_len_constraint {
        if u32::try_from(below).map_or(true, |count| count > limit) {
            return Err(format!(
                "{name} allows {limit} intermediate CAs below it, the chain has {below}"
            ));
        }
    }
    match certificate.key_usage() {
        Ok(Some(usage)) if !usage.value.key_cert_sign() => Err(format!(
            "{name}'s key usage does not allow signing certificates"
        )),
        Ok(_) => Ok(()),
        Err(error) => Err(format!("{name} has an unreadable key usage: {error}")),
    }
}

/// `certificate`'s validity period contains `now` (Unix seconds).
fn check_validity(certificate: &X509Certificate<'_>, name: &str, now: i64) -> Result<(), String> {
    let validity = certificate.validity();
    if now < validity.not_before.timestamp() {
        return Err(format!(
            "{name} is not valid before {}",
            validity.not_before
        ));
    }
    if now > validity.not_after.timestamp() {
        return Err(format!("{name} expired at {}", validity.not_after));
    }
    Ok(())
}

/// `certificate`'s signature verifies with `issuer`'s public key, by an algorithm of
/// `signatures`.
pub(crate) fn verify_signature(
    certificate: &X509Certificate<'_>,
    issuer: &X509Certificate<'_>,
    signatures: Signatures,
) -> Result<(), String> {
    let outer = certificate.signature_algorithm.algorithm.to_id_string();
    if outer
        != certificate
            .tbs_certificate
            .signature
            .algorithm
            .to_id_string()
    {
        return Err("its two signature algorithm fields differ".to_string());
    }
    let key = issuer.public_key();
    let algorithm = verification_algorithm(&outer, &key.algorithm, signatures)?;
    UnparsedPublicKey::new(algorithm, &key.subject_public_key.data)
        .verify(
            certificate.tbs_certificate.as_ref(),
            &certificate.signature_value.data,
        )
        .map_err(|_| "its signature does not verify with its issuer's key".to_string())
}

/// The `ring` algorithm for a signature `signature_oid` by a key of `key_algorithm`.
fn verification_algorithm(
    signature_oid: &str,
    key_algorithm: &AlgorithmIdentifier<'_>,
    signatures: Signatures,
) -> Result<&'static dyn VerificationAlgorithm, String> {
    if signatures == Signatures::EcdsaOrRsa
        && key_algorithm.algorithm.to_id_string() == OID_RSA_ENCRYPTION
    {
        return match signature_oid {
            OID_SHA256_WITH_RSA => Ok(&signature::RSA_PKCS1_2048_8192_SHA256),
            _ => Err(format!(
                "its signature algorithm {signature_oid} is not RSA PKCS#1 v1.5 with SHA-256"
            )),
        };
    }
    let curve = ec_curve(key_algorithm).ok_or_else(|| match signatures {
        Signatures::Ecdsa => "its issuer's key is not an EC key on P-256 or P-384".to_string(),
        Signatures::EcdsaOrRsa => {
            "its issuer's key is neither an RSA key nor an EC key on P-256 or P-384".to_string()
        }
    })?;
    ecdsa_algorithm(signature_oid, curve).ok_or_else(|| {
        format!("its signature algorithm {signature_oid} is not ECDSA with SHA-256/384")
    })
}

/// The named curve OID of an EC public key, if it is P-256 or P-384.
pub(crate) fn ec_curve(algorithm: &AlgorithmIdentifier<'_>) -> Option<&'static str> {
    if algorithm.algorithm.to_id_string() != OID_EC_PUBLIC_KEY {
        return None;
    }
    let curve = algorithm.parameters.as_ref()?.as_oid().ok()?.to_id_string();
    [OID_CURVE_P256, OID_CURVE_P384]
        .into_iter()
        .find(|known| *known == curve)
}

fn ecdsa_algorithm(signature_oid: &str, curve: &str) -> Option<&'static dyn VerificationAlgorithm> {
    match (curve, signature_oid) {
        (OID_CURVE_P256, OID_ECDSA_SHA256) => Some(&signature::ECDSA_P256_SHA256_ASN1),
        (OID_CURVE_P256, OID_ECDSA_SHA384) => Some(&signature::ECDSA_P256_SHA384_ASN1),
        (OID_CURVE_P384, OID_ECDSA_SHA256) => Some(&signature::ECDSA_P384_SHA256_ASN1),
        (OID_CURVE_P384, OID_ECDSA_SHA384) => Some(&signature::ECDSA_P384_SHA384_ASN1),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
        PKCS_ECDSA_P256_SHA256, date_time_ymd,
    };

    use super::*;

    /// A certificate made for a test and the issuer it can be.
    struct Made {
        der: Vec<u8>,
        issuer: Issuer<'static, KeyPair>,
    }

    /// A certificate named `name`, a CA (with `path_len`, if any) or not, signed by `issuer`
    /// or by itself.
    fn make(name: &str, ca: Option<Option<u8>>, issuer: Option<&Made>) -> Made {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("P-256 key");
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2100, 1, 1);
        match ca {
            Some(path_len) => {
                params.is_ca = IsCa::Ca(match path_len {
                    Some(len) => BasicConstraints::Constrained(len),
                    None => BasicConstraints::Unconstrained,
                });
                params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
            }
            None => params.key_usages = vec![KeyUsagePurpose::DigitalSignature],
        }
        let certificate = match issuer {
            Some(issuer) => params.signed_by(&key, &issuer.issuer),
            None => params.self_signed(&key),
        };
        Made {
            der: certificate.expect("certificate").der().to_vec(),
            issuer: Issuer::new(params, key),
        }
    }

    fn name(index: usize) -> String {
        format!("c[{index}]")
    }

    /// Verifies `chain` (leaf first) up to `roots` in 2030.
    fn verify(chain: &[&Made], roots: &[&Made], lenient: bool) -> Result<(), AttestationError> {
        let chain: Vec<_> = chain
            .iter()
            .map(|made| parse_certificate(&made.der).expect("parses"))
            .collect();
        let roots: Vec<_> = roots
            .iter()
            .map(|made| parse_certificate(&made.der).expect("parses"))
            .collect();
        let rules = ChainRules {
            signatures: Signatures::Ecdsa,
            name: &name,
            leaf_issuer_may_be_end_entity: lenient,
            check_dates: true,
        };
        verify_chain(&chain, &roots, 1_900_000_000, &rules)
    }

    fn reason(result: Result<(), AttestationError>) -> String {
        match result {
            Err(AttestationError::NotAuthentic { reason }) => reason,
            other => panic!("expected NotAuthentic, got {other:?}"),
        }
    }

    #[test]
    fn only_the_leafs_issuer_may_be_an_end_entity_and_only_if_allowed() {
        let root = make("root", Some(None), None);
        let signer = make("signer", None, Some(&root));
        let leaf = make("leaf", None, Some(&signer));
        verify(&[&leaf, &signer], &[&root], true).expect("the leaf's issuer may be one");
        let refused = reason(verify(&[&leaf, &signer], &[&root], false));
        assert_eq!(refused, "c[1] issues a certificate but is not a CA");

        let ca = make("ca", Some(None), Some(&signer));
        let below = make("below", None, Some(&ca));
        let refused = reason(verify(&[&below, &ca, &signer], &[&root], true));
        assert_eq!(refused, "c[2] issues a certificate but is not a CA");

        let end_entity_root = make("end entity root", None, None);
        let leaf = make("leaf", None, Some(&end_entity_root));
        let refused = reason(verify(&[&leaf], &[&end_entity_root], true));
        assert_eq!(
            refused,
            "the configured root issues a certificate but is not a CA"
        );
    }

    #[test]
    fn path_length_constraints_count_the_intermediate_cas_below() {
        let root = make("root", Some(None), None);
        let strict = make("strict", Some(Some(0)), Some(&root));
        let ca = make("ca", Some(None), Some(&strict));
        let leaf = make("leaf", None, Some(&ca));
        let refused = reason(verify(&[&leaf, &ca, &strict], &[&root], false));
        assert_eq!(
            refused,
            "c[2] allows 0 intermediate CAs below it, the chain has 1"
        );
        let direct = make("direct", None, Some(&strict));
        verify(&[&direct, &strict], &[&root], false).expect("no CA below the strict one");

        let one = make("one", Some(Some(1)), Some(&root));
        let ca = make("ca", Some(None), Some(&one));
        let leaf = make("leaf", None, Some(&ca));
        verify(&[&leaf, &ca, &one], &[&root], false).expect("one CA below");
        let constrained_root = make("constrained root", Some(Some(0)), None);
        let ca = make("ca", Some(None), Some(&constrained_root));
        let leaf = make("leaf", None, Some(&ca));
        let refused = reason(verify(&[&leaf, &ca], &[&constrained_root], false));
        assert_eq!(
            refused,
            "the configured root allows 0 intermediate CAs below it, the chain has 1"
        );
    }

    #[test]
    fn the_root_that_signed_is_found_among_several() {
        let first = make("root", Some(None), None);
        let second = make("root", Some(None), None);
        let other = make("other root", Some(None), None);
        let leaf = make("leaf", None, Some(&second));
        verify(&[&leaf], &[&other, &first, &second], false).expect("the second verifies");
        let refused = reason(verify(&[&leaf], &[&other, &first], false));
        assert_eq!(
            refused,
            "c[0]: its signature does not verify with its issuer's key"
        );
        let refused = reason(verify(&[&leaf], &[&other, &other], false));
        assert_eq!(
            refused,
            "c[0] names `CN=root` as its issuer, which is none of the 2 configured roots"
        );
        let refused = reason(verify(&[&leaf], &[&other], false));
        assert_eq!(
            refused,
            "c[0] names `CN=root` as its issuer, but the configured root is `CN=other root`"
        );
    }

    #[test]
    fn an_ecdsa_only_chain_refuses_rsa() {
        let pem = crate::key_attestation::GOOGLE_HARDWARE_ATTESTATION_ROOTS_PEM;
        let roots = pem_certificates_der(pem).expect("PEM");
        let rsa = parse_certificate(&roots[0]).expect("parses");
        verify_signature(&rsa, &rsa, Signatures::EcdsaOrRsa).expect("RSA verifies");
        assert_eq!(
            verify_signature(&rsa, &rsa, Signatures::Ecdsa),
            Err("its issuer's key is not an EC key on P-256 or P-384".to_string())
        );
        let ec = parse_certificate(&roots[1]).expect("parses");
        assert_eq!(
            verify_signature(&ec, &rsa, Signatures::EcdsaOrRsa),
            Err(
                "its signature algorithm 1.2.840.10045.4.3.3 is not RSA PKCS#1 v1.5 with SHA-256"
                    .to_string()
            )
        );
    }

    #[test]
    fn pem_certificates_are_read_with_text_between_them() {
        let root = make("root", Some(None), None);
        let block = |label: &str| {
            format!(
                "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
                base64::engine::general_purpose::STANDARD.encode(&root.der)
            )
        };
        let two = format!(
            "a comment\n{}more text\n{}",
            block("CERTIFICATE"),
            block("CERTIFICATE")
        );
        assert_eq!(
            pem_certificates_der(&two).expect("two"),
            vec![root.der.clone(), root.der.clone()]
        );
        assert!(pem_certificate_der(&two).is_err());
        let error = pem_certificates_der("no PEM here").expect_err("none");
        assert!(error.contains("no PEM block"), "{error}");
        let error =
            pem_certificates_der(&format!("{}{}", block("CERTIFICATE"), block("PUBLIC KEY")))
                .expect_err("a key");
        assert_eq!(
            error,
            "PEM block 1: expected a PEM CERTIFICATE, found PUBLIC KEY"
        );
    }

    #[test]
    fn base64_is_read_in_either_alphabet_with_or_without_padding() {
        let bytes = [0xfb_u8, 0xff, 0xfe, 1];
        for text in ["+//+AQ==", "+//+AQ", "-__-AQ==", "-__-AQ"] {
            assert_eq!(decode_base64(text).ok(), Some(bytes.to_vec()), "{text}");
        }
        assert!(decode_base64("+/_-AQ").is_err());
    }
}
