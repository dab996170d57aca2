import Foundation
import Hummingbird
import Logging
import NIOCore
import RegistryDomain
import RegistryServices

/// Per-request state: who is calling (set once by `AuthenticationMiddleware`) and how.
public struct AppRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    public var principal: Principal = .anonymous
    public var session: AuthService.Session?
    /// The raw session token, when the request carried one (for logout and re-login).
    public var presentedToken: String?
    public var authenticatedByCookie = false
    /// The integration source behind an API key.
    public var integration: FlagService.Source?
    public var requestID: String = ""

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
        self.clientAddress = source.channel.remoteAddress?.ipAddress
    }

    public var requestDecoder: JSONDecoder { JSONCoding.decoder }
    public var responseEncoder: JSONEncoder { JSONCoding.encoder }

    /// Bodies above this are refused with 413 before they are read in full.
    public var maxUploadSize: Int { 1 * 1024 * 1024 }

    /// The client's IP address, without the port (used for throttling, never logged with a
    /// person): the socket peer, or behind trusted proxies the address they forwarded for
    /// (set once by `AuthenticationMiddleware`).
    public var clientAddress: String?
}

/// One JSON style for the whole API: snake_case keys, ISO 8601 dates.
public enum JSONCoding {
    public static var decoder: JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return d
    }

    public static var encoder: JSONEncoder {
        let e = JSONEncoder()
        e.dateEncodingStrategy = .iso8601
        // Types without explicit coding keys (the stores' records) come out in snake_case too.
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }
}
