// swift-tools-version:5.9
// daka for iOS, for local development: the XCFramework built on this Mac by
// build-xcframework.sh (binary target `DakaFFI`), the Swift module `DakaSDK` (the generated
// bindings, committed and refreshed by build-xcframework.sh, plus the hand-written helpers and
// the privacy manifest) and `DakaSDKTesting` (FakeDakaDevice for the app's unit tests).
// Apps that depend on daka by URL use the Package.swift at the repository root, whose binary
// target is the released XCFramework. Names as in ../uniffi.toml.
import PackageDescription

let package = Package(
    name: "DakaSDK",
    platforms: [.iOS(.v15)],
    products: [
        .library(name: "DakaSDK", targets: ["DakaSDK"]),
        .library(name: "DakaSDKTesting", targets: ["DakaSDKTesting"]),
    ],
    targets: [
        .binaryTarget(name: "DakaFFI", path: "DakaFFI.xcframework"),
        .target(
            name: "DakaSDK",
            dependencies: ["DakaFFI"],
            path: "Sources/DakaSDK",
            resources: [.copy("PrivacyInfo.xcprivacy")],
            linkerSettings: [.linkedFramework("SystemConfiguration")]
        ),
        .target(
            name: "DakaSDKTesting",
            dependencies: ["DakaSDK"],
            path: "Sources/DakaSDKTesting"
        ),
    ]
)
