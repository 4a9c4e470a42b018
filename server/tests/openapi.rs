//! The committed `docs/openapi.json` is the document the server generates and serves, so the
//! published protocol cannot drift from the code. Regenerate it with
//! `DAKA_UPDATE_OPENAPI=1 cargo test -p daka-server --test openapi`.

mod common;

use std::path::PathBuf;

use common::TestServer;

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json")
}

#[test]
fn docs_openapi_json_is_up_to_date() {
    let generated = daka_server::openapi::document_json();
    let path = committed_path();
    if std::env::var_os("DAKA_UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/openapi.json is out of date; regenerate it with \
         DAKA_UPDATE_OPENAPI=1 cargo test -p daka-server --test openapi"
    );
}

#[test]
fn the_document_is_openapi_3_1_and_covers_every_endpoint() {
    let doc: serde_json::Value =
        serde_json::from_str(&daka_server::openapi::document_json()).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for (path, method) in [
        ("/v1/enroll", "post"),
        ("/v1/token", "post"),
        ("/v1/policy", "get"),
        ("/v1/push", "post"),
        ("/v1/changes", "get"),
        ("/admin/v1/policy", "put"),
        ("/admin/v1/policy", "get"),
        ("/admin/v1/enrollment-codes", "post"),
        ("/admin/v1/devices", "get"),
        ("/admin/v1/punches", "get"),
        ("/admin/v1/chains/verify", "get"),
        ("/v1/attachments/{sha256}", "put"),
        ("/v1/attachments/{sha256}", "get"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }
    for schema in [
        "EnrollRequest",
        "EnrollResponse",
        "TokenRequest",
        "PolicyBundle",
        "PushRequest",
        "PushItem",
        "ItemStatus",
        "ItemResult",
        "PushResponse",
        "ChangesResponse",
        "Change",
        "ApiError",
        "AttachmentStored",
        "Decision",
        "Code",
    ] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "schema {schema}"
        );
    }
    let codes = doc["components"]["schemas"]["Code"].to_string();
    assert!(codes.contains("face_token_replayed"));
}

#[test]
fn path_parameters_are_in_their_path_and_the_rest_are_not() {
    let doc: serde_json::Value =
        serde_json::from_str(&daka_server::openapi::document_json()).unwrap();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for p in op["parameters"].as_array().into_iter().flatten() {
                let name = p["name"].as_str().unwrap();
                let placeholder = format!("{{{name}}}");
                match p["in"].as_str().unwrap() {
                    "path" => assert!(
                        path.contains(&placeholder),
                        "{method} {path}: {name} is declared in the path but is not in it"
                    ),
                    _ => assert!(
                        !path.contains(&placeholder),
                        "{method} {path}: {name} is in the path but declared elsewhere"
                    ),
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 10, "{checked} parameters");
    let corrections = &doc["paths"]["/admin/v1/corrections"]["get"]["parameters"][0];
    assert_eq!(
        (
            &corrections["name"],
            &corrections["in"],
            &corrections["required"]
        ),
        (
            &serde_json::json!("employee_id"),
            &serde_json::json!("query"),
            &serde_json::json!(true)
        )
    );
}

#[test]
fn every_input_limit_the_server_enforces_is_in_the_schema() {
    let doc: serde_json::Value =
        serde_json::from_str(&daka_server::openapi::document_json()).unwrap();
    // Every parameter: strings have a length limit or a pattern, integers a range.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for p in op["parameters"].as_array().into_iter().flatten() {
                let name = p["name"].as_str().unwrap();
                let schema = &p["schema"];
                let kind = schema["type"]
                    .as_str()
                    .or_else(|| schema["type"][0].as_str())
                    .unwrap_or_default();
                match kind {
                    "string" => assert!(
                        schema["maxLength"].is_u64() || schema["pattern"].is_string(),
                        "{method} {path} {name}: {schema}"
                    ),
                    "integer" => assert!(
                        schema["minimum"].is_number(),
                        "{method} {path} {name}: {schema}"
                    ),
                    other => panic!("{method} {path} {name}: a {other} parameter"),
                }
            }
        }
    }
    let schemas = &doc["components"]["schemas"];
    // The device's request bodies.
    let enroll = &schemas["EnrollRequest"]["properties"];
    assert_eq!(enroll["code"]["maxLength"], 64);
    assert_eq!(enroll["public_key"]["pattern"], "^[A-Za-z0-9_-]{43}$");
    assert_eq!(enroll["device_name"]["maxLength"], 200);
    assert_eq!(enroll["platform"]["maxLength"], 32);
    assert_eq!(
        schemas["TokenRequest"]["properties"]["device_id"]["maxLength"],
        128
    );
    assert_eq!(
        schemas["PushRequest"]["properties"]["items"]["maxItems"],
        daka_core::protocol::MAX_PUSH_ITEMS as u64
    );
    assert_eq!(schemas["PushItem"]["properties"]["id"]["maxLength"], 128);
    // The patterns are what the server parses.
    let sha = &doc["paths"]["/v1/attachments/{sha256}"]["get"]["parameters"][0]["schema"];
    assert_eq!(sha["pattern"], "^[0-9a-f]{64}$");
}

#[tokio::test]
async fn the_server_serves_the_same_document() {
    let server = TestServer::start().await;
    let served = server
        .http
        .get(server.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(served, daka_server::openapi::document_json());
}
