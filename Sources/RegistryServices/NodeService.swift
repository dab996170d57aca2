import Foundation
import Logging
import RegistryStorage

/// This node as the others and the administrators see it: it announces itself in the database
/// every few seconds (`PeriodicService.nodeHeartbeat`), and `/admin` lists the nodes heard from
/// lately. Nodes share nothing but the database, so this is also how one learns of the others.
public struct NodeService: Sendable {
    let database: Database
    public let identity: NodeStore.Node
    /// A node not heard from for this long is no longer live.
    public static let liveWithin: Duration = .seconds(30)
    public static let heartbeatInterval: Duration = .seconds(5)

    init(configuration: Configuration, schemaVersion: Int, database: Database, clock: RegistryClock) {
        self.database = database
        let host = ProcessInfo.processInfo.hostName
        let address = "\(configuration.host):\(configuration.port)"
        identity = NodeStore.Node(
            id: configuration.nodeID ?? "\(host):\(configuration.port)",
            version: Self.version(schemaVersion: schemaVersion),
            address: address,
            pid: Int(ProcessInfo.processInfo.processIdentifier),
            startedAt: clock.now,
            lastSeenAt: clock.now,
            databaseHost: nil
        )
    }

    /// The schema this build migrates to, and when the executable was built (its file's time).
    static func version(schemaVersion: Int) -> String {
        let path = CommandLine.arguments.first.map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path } ?? ""
        let built = (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date).map {
            $0.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: false).timeSeparator(.colon))
        }
        return "schema \(schemaVersion)" + (built.map { ", built \($0)" } ?? "")
    }

    /// Announces this node (and the database host it uses now).
    public func heartbeat(logger: Logger) async throws {
        var node = identity
        node.databaseHost = database.primaryLabel
        try await NodeStore.heartbeat(node, forgetAfter: .seconds(7 * 86_400), database: database, logger: logger)
    }

    /// The nodes heard from within `liveWithin`.
    public func live(logger: Logger) async throws -> [NodeStore.Node] {
        try await NodeStore.live(within: Self.liveWithin, database: database, logger: logger)
    }
}

extension PeriodicService {
    /// This node's heartbeat in `service_nodes`.
    public static func nodeHeartbeat(_ nodes: NodeService, logger: Logger) -> PeriodicService {
        PeriodicService("node heartbeat", every: NodeService.heartbeatInterval, logger: logger) {
            try await nodes.heartbeat(logger: logger)
        }
    }
}
