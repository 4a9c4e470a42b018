// Plugin versions for both modules. Android Gradle Plugin 9 compiles Kotlin itself (built-in
// Kotlin), so no separate Kotlin plugin is applied.
plugins {
    id("com.android.library") version "9.5.1" apply false
    id("com.android.application") version "9.5.1" apply false
}
