// The English explanation of a `DakaError`, from the library's own text.
import Foundation

extension DakaError: CustomStringConvertible {
    /// The English explanation with its numbers (`describeError(error:)`, the text daka's own
    /// logs use). `localizedDescription` returns it too: the generated `errorDescription` is
    /// `String(reflecting: self)`, which uses this `description`.
    public var description: String { describeError(error: self) }
}
