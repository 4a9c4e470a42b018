// The Android build for apps: `:daka` (the AAR: generated bindings, native libraries, the
// Keystore key store) and `:sample` (the one-screen sample app). Run build-native.sh first; it
// fills daka/build/generated/{uniffi,jniLibs}. See README.md.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "daka-android"
include(":daka", ":sample")
