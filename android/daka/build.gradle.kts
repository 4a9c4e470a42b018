// The daka AAR: the Kotlin bindings generated with ../uniffi-android.toml, libdaka_ffi.so for
// each ABI (both produced by ../build-native.sh), JNA, and the hand-written Android pieces
// (AndroidKeystoreKeyStore, Location.toFix(), the background sync job on JobScheduler).
plugins {
    id("com.android.library")
}

val generatedKotlin = layout.buildDirectory.dir("generated/uniffi/kotlin")
val generatedJniLibs = layout.buildDirectory.dir("generated/jniLibs")

android {
    namespace = "hk.daka.android"
    compileSdk = 36

    defaultConfig {
        minSdk = 26
        consumerProguardFiles("consumer-rules.pro")
        ndk {
            // The ABIs build-native.sh builds; keep the two lists the same.
            abiFilters += listOf("arm64-v8a", "armeabi-v7a", "x86_64")
        }
    }

    sourceSets["main"].kotlin.srcDir(generatedKotlin)
    // Plain Kotlin (no Android classes): the background job's scheduling rules, also compiled
    // and unit-tested on the JVM by ../jvm-tests and ../testing.
    sourceSets["main"].kotlin.srcDir("src/portable/kotlin")
    sourceSets["main"].jniLibs.srcDir(generatedJniLibs)

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    // JNA as an AAR: it carries libjnidispatch.so for every Android ABI.
    api("net.java.dev.jna:jna:5.19.1@aar")
    api("org.jetbrains.kotlinx:kotlinx-coroutines-android:1.11.0")
    implementation("androidx.annotation:annotation:1.9.1")
}

// Fail early, with the fix, when build-native.sh has not been run.
val checkNativeOutputs by tasks.registering {
    val kotlinDir = generatedKotlin
    val jniDir = generatedJniLibs
    doLast {
        val missing = listOf(
            kotlinDir.get().file("hk/daka/sdk/daka.kt").asFile,
            jniDir.get().file("arm64-v8a/libdaka_ffi.so").asFile,
        ).filterNot { it.exists() }
        check(missing.isEmpty()) { "missing $missing: run `bash android/build-native.sh` first" }
    }
}
tasks.named("preBuild") { dependsOn(checkNativeOutputs) }
