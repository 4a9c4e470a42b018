//! The face-match token (compact JWS) verifier of `daka_core::evidence::face_token`, with the
//! example policy's trusted keys. The first byte picks the mode: even, the rest is the token
//! as sent; odd, the rest is `header JSON \n claims JSON`, signed here with the trusted
//! demonstration key so that the claims checks are reached. `NONCE` in the input stands for
//! the nonce issued for the attempt. Contract: no panic; an accepted token names the key it
//! was verified with, has a score in 0..=1, and uses up its nonce (a second use is refused).
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use daka_core::evidence::face_token::{Expected, FaceTokenVerifier, NonceLedger};
use daka_fuzz::{FACE_SEED_B64, policy, trusted_now};
use libfuzzer_sys::fuzz_target;
use ring::signature::Ed25519KeyPair;

fn signed(header: &str, claims: &str) -> String {
    let seed = URL_SAFE_NO_PAD.decode(FACE_SEED_B64).expect("base64url");
    let key = Ed25519KeyPair::from_seed_unchecked(&seed).expect("a 32-byte seed");
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let sig = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let mut ledger = NonceLedger::new();
    let nonce = ledger.issue().expect("the OS random generator");
    let token = if mode % 2 == 0 {
        text.replace("NONCE", &nonce)
    } else {
        let (header, claims) = text.split_once('\n').unwrap_or((text, ""));
        signed(header, &claims.replace("NONCE", &nonce))
    };
    let verifier = FaceTokenVerifier::for_policy(policy());
    let expected = Expected {
        employee_id: "E1001",
        nonce: &nonce,
        trusted_now: trusted_now(),
    };
    match verifier.verify(&token, &expected, &mut ledger) {
        Ok(face) => {
            assert!(policy().face_matchers.iter().any(|k| k.kid == face.kid));
            assert!((0.0..=1.0).contains(&face.score), "score {}", face.score);
            assert!(ledger.is_consumed(&nonce));
            assert!(
                verifier.verify(&token, &expected, &mut ledger).is_err(),
                "a nonce was used twice"
            );
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            let _ = e.code();
        }
    }
});
