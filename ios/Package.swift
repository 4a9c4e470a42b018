// swift-tools-version:5.9
// daka for iOS: the Rust library as an XCFramework (binary target `DakaFFI`, built by
// build-xcframework.sh) and the Swift module `DakaSDK` (the generated bindings, which
// build-xcframework.sh copies into Sources/DakaSDK, plus a small hand-written extension and
// the Secure Enclave key store). Names as in ../uniffi.toml.
import PackageDescription

let package = Package(
    name: "DakaSDK",
    platforms: [.iOS(.v15)],
    products: [
        .library(name: "DakaSDK", targets: ["DakaSDK"]),
    ],
    targets: [
        .binaryTarget(name: "DakaFFI", path: "DakaFFI.xcframework"),
        .target(
            name: "DakaSDK",
            dependencies: ["DakaFFI"],
            path: "Sources/DakaSDK",
            linkerSettings: [.linkedFramework("SystemConfiguration")]
        ),
    ]
)
