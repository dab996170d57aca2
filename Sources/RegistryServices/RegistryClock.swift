import Foundation
import RegistryDomain
import Synchronization

/// The registry's one source of the current time, given to every service at construction. The
/// service reads the system clock; tests move it forward to see what the registry does as time
/// passes, and `registry jobs run --as-of` runs a job as of a later day.
public final class RegistryClock: Sendable {
    private let offset: Mutex<TimeInterval>

    /// The system clock, moved by `offset` seconds.
    public init(offset: TimeInterval = 0) { self.offset = Mutex(offset) }

    /// A clock that reads the system's time.
    public static var system: RegistryClock { RegistryClock() }

    /// Now.
    public var now: Date { Date().addingTimeInterval(offset.withLock { $0 }) }

    /// Today in China Standard Time, the registry's civil calendar.
    public var today: CivilDate { CivilDate.today(now) }

    /// Moves the clock forward by `seconds` (or back, for a negative number).
    public func advance(by seconds: TimeInterval) { offset.withLock { $0 += seconds } }

    /// Moves the clock forward by whole days.
    public func advance(days: Int) { advance(by: TimeInterval(days) * 86_400) }
}
