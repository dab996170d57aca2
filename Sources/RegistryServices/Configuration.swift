import Foundation
import Logging
import NIOCore
import NIOSSL
import RegistryDomain

/// Everything the service reads from its environment, read once, here.
public struct Configuration: Sendable {
    public var host: String = "127.0.0.1"
    public var port: Int = 8080
    /// The embedded cluster, keys file and audit checkpoints live here.
    public var dataDirectory: String = ".registry"
    /// An external PostgreSQL; nil means the embedded cluster.
    public var databaseURL: String?
    /// A read-only copy for the public ban lookup and the for-hire listing (DATABASE_READ_URL),
    /// used while it is at most `readMaxLagSeconds` behind (REGISTRY_READ_MAX_LAG).
    public var databaseReadURL: String?
    public var readMaxLagSeconds: Int = 5
    /// With `databaseURL`: the password the service signs in with as `registry_app` (set on the
    /// role by `registry migrate`).
    public var databaseAppPassword: String?
    /// The folder holding `Migrations/`, `Policies/` and `Web/`.
    public var root: String = FileManager.default.currentDirectoryPath
    public var logLevel: Logger.Level = .info
    /// Mark cookies Secure (set when served over TLS, directly or behind a proxy).
    public var secureCookies: Bool = false
    /// Base64 keys; when absent they are read from (or created once in) `keysFile`.
    public var sealingKey: String?
    public var blindIndexKey: String?
    public var signingKey: String?
    /// Database connections per node.
    public var poolSize: Int = 16
    /// REGISTRY_NODE_ID: how this node names itself in `/admin`; nil: `hostname:port`.
    public var nodeID: String?
    /// Proxies whose forwarding headers are believed (REGISTRY_TRUSTED_PROXIES, CIDRs); empty:
    /// the socket peer is the client.
    public var trustedProxies: [ClientAddress.Range] = []
    /// The address people reach the registry at (`https://registry.example.cn`), for links that
    /// leave the browser (QR codes, messages); nil: derived from the listener.
    public var publicURL: String?
    /// A second listener serving only `GET /metrics` to whoever can reach it (bind it to a private
    /// address); nil: metrics only to administrators on the main listener.
    public var metricsHost: String?
    public var metricsPort: Int?
    /// Seconds a client connection may stay silent (a slow or stalled client) before it is closed.
    public var idleTimeout: Int = 30
    /// Demo mode (`serve --demo`, `make run`): messages go to the demo mailbox (`/demo/outbox`)
    /// instead of reaching phones and inboxes.
    public var demoMode = false
    /// Which SMS channel sends texts (REGISTRY_SMS_PROVIDER): the provider-neutral gateway or
    /// Alibaba Cloud SMS. Outside demo mode the chosen one must be configured.
    public var smsProvider: SMSProvider = .gateway
    /// The SMS gateway (provider-neutral protocol), with `smsProvider` `.gateway`.
    public var smsGateway: HTTPGatewayChannel.Settings?
    /// The SMTP relay e-mail goes through (REGISTRY_SMTP_URL); optional: without it, e-mail has no
    /// channel (demo mode: the demo mailbox).
    public var smtp: SMTPChannel.Settings?
    /// Alibaba Cloud SMS, with `smsProvider` `.aliyun`; its template codes come from
    /// `Policies/sms-templates.yaml`.
    public var aliyunSMS: AliyunSMSChannel.Settings?

    public enum SMSProvider: String, Sendable, CaseIterable {
        case gateway
        case aliyun
    }

    /// Whether the chosen SMS provider is configured (`serve` refuses to start without one outside demo mode).
    public var hasSMSChannel: Bool {
        switch smsProvider {
        case .gateway: smsGateway != nil
        case .aliyun: aliyunSMS != nil
        }
    }

    public init() {}

    public var migrationsDirectory: String { root + "/Migrations" }
    public var policiesDirectory: String { root + "/Policies" }
    public var webDirectory: String { root + "/Web" }
    public var messagesDirectory: String { root + "/Web/i18n/messages" }
    /// REGISTRY_KEYS_FILE; nil: `keys.json` in a folder beside the data folder (`<data>-keys/`),
    /// never inside it, so that a copy of the data folder does not carry the keys that open it.
    public var keysFileSetting: String?
    public var keysFile: String { keysFileSetting ?? (dataDirectory + "-keys/keys.json") }
    /// Where keys were kept before (inside the data folder).
    public var legacyKeysFile: String { dataDirectory + "/keys.json" }
    /// REGISTRY_CHECKPOINT_DIR: the folder the audit checkpoints are appended to, best on another
    /// disk or a mount that is shipped elsewhere; nil: the data folder.
    public var checkpointDirectory: String?
    public var checkpointsFile: String { (checkpointDirectory ?? dataDirectory) + "/audit-checkpoints.jsonl" }

    /// Environment variables, documented in the README.
    public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) throws -> Configuration {
        var c = Configuration()
        if let host = env["HOST"], !host.isEmpty { c.host = host }
        if let port = env["PORT"], !port.isEmpty {
            guard let p = Int(port), (1...65535).contains(p) else { throw ConfigurationError("PORT must be a number from 1 to 65535") }
            c.port = p
        }
        if let dir = env["REGISTRY_DATA_DIR"], !dir.isEmpty { c.dataDirectory = dir }
        if let dir = env["REGISTRY_CHECKPOINT_DIR"], !dir.isEmpty { c.checkpointDirectory = Self.absolute(dir) }
        if let url = env["DATABASE_URL"], !url.isEmpty { c.databaseURL = url }
        if let url = env["DATABASE_READ_URL"], !url.isEmpty { c.databaseReadURL = url }
        if let lag = env["REGISTRY_READ_MAX_LAG"], !lag.isEmpty {
            guard let n = Int(lag), (2...3600).contains(n) else { throw ConfigurationError("REGISTRY_READ_MAX_LAG must be 2 to 3600 seconds") }
            c.readMaxLagSeconds = n
        }
        if let password = env["REGISTRY_DB_APP_PASSWORD"], !password.isEmpty { c.databaseAppPassword = password }
        if let root = env["REGISTRY_ROOT"], !root.isEmpty { c.root = root }
        if let level = env["LOG_LEVEL"], !level.isEmpty {
            guard let l = Logger.Level(rawValue: level.lowercased()) else {
                throw ConfigurationError("LOG_LEVEL must be one of trace, debug, info, notice, warning, error, critical")
            }
            c.logLevel = l
        }
        if let secure = env["REGISTRY_SECURE_COOKIES"] { c.secureCookies = ["1", "true", "yes"].contains(secure.lowercased()) }
        c.sealingKey = env["REGISTRY_SEALING_KEY"]
        c.blindIndexKey = env["REGISTRY_BLIND_INDEX_KEY"]
        c.signingKey = env["REGISTRY_SIGNING_KEY"]
        if let file = env["REGISTRY_KEYS_FILE"], !file.isEmpty { c.keysFileSetting = Self.absolute(file) }
        if let idle = env["REGISTRY_IDLE_TIMEOUT"], !idle.isEmpty {
            guard let n = Int(idle), (1...3600).contains(n) else { throw ConfigurationError("REGISTRY_IDLE_TIMEOUT must be 1 to 3600 seconds") }
            c.idleTimeout = n
        }
        if let address = env["REGISTRY_METRICS_ADDRESS"], !address.isEmpty {
            guard let colon = address.lastIndex(of: ":"), let p = Int(address[address.index(after: colon)...]), (1...65535).contains(p),
                colon > address.startIndex
            else { throw ConfigurationError("REGISTRY_METRICS_ADDRESS must be HOST:PORT, e.g. 10.0.0.5:9464") }
            c.metricsHost = String(address[..<colon])
            c.metricsPort = p
        }
        if let proxies = env["REGISTRY_TRUSTED_PROXIES"], !proxies.isEmpty {
            for item in proxies.split(separator: ",") {
                let text = item.trimmingCharacters(in: .whitespaces)
                guard let range = ClientAddress.Range(text) else {
                    throw ConfigurationError("REGISTRY_TRUSTED_PROXIES: '\(text)' is not an address or CIDR range (e.g. 10.0.0.0/8, fd00::/8)")
                }
                c.trustedProxies.append(range)
            }
        }
        if let url = env["REGISTRY_PUBLIC_URL"], !url.isEmpty {
            guard let parsed = URLComponents(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host?.isEmpty == false,
                parsed.query == nil, parsed.fragment == nil, parsed.user == nil
            else { throw ConfigurationError("REGISTRY_PUBLIC_URL must be an http(s) address like https://registry.example.cn") }
            c.publicURL = url.hasSuffix("/") ? String(url.dropLast()) : url
        }
        if let node = env["REGISTRY_NODE_ID"], !node.isEmpty {
            guard node.count <= 100, node.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.:".contains($0)) }) else {
                throw ConfigurationError("REGISTRY_NODE_ID: up to 100 letters, digits and - _ . :")
            }
            c.nodeID = node
        }
        if let pool = env["REGISTRY_DB_POOL"], !pool.isEmpty {
            guard let n = Int(pool), (1...500).contains(n) else { throw ConfigurationError("REGISTRY_DB_POOL must be 1 to 500") }
            c.poolSize = n
        }
        if let provider = env["REGISTRY_SMS_PROVIDER"], !provider.isEmpty {
            guard let p = SMSProvider(rawValue: provider.lowercased()) else {
                throw ConfigurationError("REGISTRY_SMS_PROVIDER must be gateway (the provider-neutral HTTP gateway, the default) or aliyun")
            }
            c.smsProvider = p
        }
        switch c.smsProvider {
        case .gateway: try c.readGateway(env)
        case .aliyun: c.aliyunSMS = try Self.aliyun(env)
        }
        c.smtp = try smtpSettings(env, publicURL: c.publicURL)
        c.dataDirectory = Self.absolute(c.dataDirectory)
        c.root = Self.absolute(c.root)
        return c
    }

    /// REGISTRY_SMTP_URL (`smtp://user:password@relay.example.cn:587` with STARTTLS,
    /// `smtps://…:465` with TLS from the start, `smtp+plain://127.0.0.1:2525` without TLS on
    /// loopback only), REGISTRY_SMTP_FROM, REGISTRY_SMTP_CA_FILE and REGISTRY_SMTP_HELO.
    static func smtpSettings(_ env: [String: String], publicURL: String?) throws -> SMTPChannel.Settings? {
        func value(_ name: String) -> String? { env[name].flatMap { $0.isEmpty ? nil : $0 } }
        guard let url = value("REGISTRY_SMTP_URL") else {
            for name in ["REGISTRY_SMTP_FROM", "REGISTRY_SMTP_CA_FILE", "REGISTRY_SMTP_HELO"] where value(name) != nil {
                throw ConfigurationError("\(name) is set but REGISTRY_SMTP_URL is not")
            }
            return nil
        }
        let shape =
            "REGISTRY_SMTP_URL must look like smtp://user:password@relay.example.cn:587 (STARTTLS), smtps://user:password@relay.example.cn:465 (TLS) or smtp+plain://127.0.0.1:2525 (loopback only)"
        guard let parsed = URLComponents(string: url), var host = parsed.host, !host.isEmpty, parsed.query == nil, parsed.fragment == nil,
            ["", "/"].contains(parsed.path)
        else { throw ConfigurationError(shape) }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let security: SMTPChannel.Settings.Security
        let defaultPort: Int
        switch parsed.scheme?.lowercased() {
        case "smtp": (security, defaultPort) = (.startTLS, 587)
        case "smtps": (security, defaultPort) = (.tls, 465)
        case "smtp+plain": (security, defaultPort) = (.none, 25)
        default: throw ConfigurationError(shape)
        }
        if let port = parsed.port, !(1...65535).contains(port) { throw ConfigurationError("REGISTRY_SMTP_URL: the port must be 1 to 65535") }
        if security == .none {
            let loopback = host == "localhost" || host == "::1" || (host.hasPrefix("127.") && (try? SocketAddress(ipAddress: host, port: 0)) != nil)
            guard loopback else {
                throw ConfigurationError(
                    "REGISTRY_SMTP_URL: smtp+plain (no TLS) is only for a relay on loopback (127.0.0.1, ::1, localhost); use smtp:// (STARTTLS) or smtps://"
                )
            }
        }
        // The user name and password as written: every % must start an escape (URLComponents takes a
        // stray one literally, which would hide a mistyped password).
        if let scheme = url.range(of: "://") {
            let authority = url[scheme.upperBound...].prefix { $0 != "/" && $0 != "?" && $0 != "#" }
            if let at = authority.lastIndex(of: "@"), authority[..<at].removingPercentEncoding == nil {
                throw ConfigurationError("REGISTRY_SMTP_URL: the user name or password is badly percent-encoded (write %25 for %)")
            }
        }
        var user: String?
        var secret: String?
        if let raw = parsed.percentEncodedUser {
            guard let decoded = raw.removingPercentEncoding, !decoded.isEmpty else {
                throw ConfigurationError("REGISTRY_SMTP_URL: the user name is empty or badly percent-encoded")
            }
            user = decoded
        }
        if let raw = parsed.percentEncodedPassword {
            guard let decoded = raw.removingPercentEncoding, !decoded.isEmpty else {
                throw ConfigurationError("REGISTRY_SMTP_URL: the password is empty or badly percent-encoded")
            }
            secret = decoded
        }
        guard (user == nil) == (secret == nil) else {
            throw ConfigurationError("REGISTRY_SMTP_URL: give both a user name and a password (smtp://user:password@host), or neither")
        }
        guard let from = value("REGISTRY_SMTP_FROM") else {
            throw ConfigurationError("REGISTRY_SMTP_FROM (the sender's address, e.g. registry@example.cn) must be set with REGISTRY_SMTP_URL")
        }
        guard SMTPChannel.isPlainAddress(from) else {
            throw ConfigurationError("REGISTRY_SMTP_FROM must be a plain address like registry@example.cn")
        }
        var caFile: String?
        if let file = value("REGISTRY_SMTP_CA_FILE") {
            let path = absolute(file)
            guard let certificates = try? NIOSSLCertificate.fromPEMFile(path), !certificates.isEmpty else {
                throw ConfigurationError("REGISTRY_SMTP_CA_FILE: \(path) is not a readable file of PEM certificates")
            }
            caFile = path
        }
        let publicHost = publicURL.flatMap { URLComponents(string: $0)?.host }.flatMap { isDomainName($0) ? $0 : nil }
        let helo = value("REGISTRY_SMTP_HELO") ?? publicHost ?? heloFromHostName()
        guard isDomainName(helo) else { throw ConfigurationError("REGISTRY_SMTP_HELO must be a domain name like registry.example.cn") }
        return SMTPChannel.Settings(
            host: host,
            port: parsed.port ?? defaultPort,
            username: user,
            password: secret,
            from: from,
            security: security,
            caFile: caFile,
            heloName: helo
        )
    }

    static func isDomainName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 253 && !name.hasPrefix(".") && !name.hasPrefix("-")
            && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == ".") }
    }

    /// The machine's name when it is a usable EHLO name, else `localhost`.
    static func heloFromHostName() -> String {
        let name = ProcessInfo.processInfo.hostName
        return isDomainName(name) ? name : "localhost"
    }

    /// REGISTRY_SMS_GATEWAY_*: the provider-neutral gateway, when its URL is set.
    mutating func readGateway(_ env: [String: String]) throws {
        guard let url = env["REGISTRY_SMS_GATEWAY_URL"], !url.isEmpty else { return }
        guard let parsed = URLComponents(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host?.isEmpty == false,
            parsed.user == nil, parsed.fragment == nil
        else { throw ConfigurationError("REGISTRY_SMS_GATEWAY_URL must be an http(s) address like https://sms.example.cn/v1/messages") }
        guard let secret = env["REGISTRY_SMS_GATEWAY_SECRET"], secret.utf8.count >= 16 else {
            throw ConfigurationError("REGISTRY_SMS_GATEWAY_SECRET (at least 16 characters) must be set with REGISTRY_SMS_GATEWAY_URL")
        }
        let keyID = env["REGISTRY_SMS_GATEWAY_KEY_ID"].flatMap { $0.isEmpty ? nil : $0 } ?? "registry"
        guard keyID.count <= 64, keyID.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) else {
            throw ConfigurationError("REGISTRY_SMS_GATEWAY_KEY_ID is 1 to 64 of A-Z a-z 0-9 - _ .")
        }
        smsGateway = .init(url: url, secret: secret, keyID: keyID)
    }

    /// REGISTRY_ALIYUN_*: Alibaba Cloud SMS, all of them required but the endpoint.
    static func aliyun(_ env: [String: String]) throws -> AliyunSMSChannel.Settings {
        func value(_ name: String) throws -> String {
            guard let v = env[name]?.trimmingCharacters(in: .whitespaces), !v.isEmpty else {
                throw ConfigurationError("\(name) must be set when REGISTRY_SMS_PROVIDER is aliyun")
            }
            return v
        }
        let keyID = try value("REGISTRY_ALIYUN_ACCESS_KEY_ID")
        guard (8...128).contains(keyID.count), keyID.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else {
            throw ConfigurationError("REGISTRY_ALIYUN_ACCESS_KEY_ID must be an AccessKey ID: 8 to 128 of A-Z a-z 0-9 (e.g. LTAI5t…)")
        }
        let secret = try value("REGISTRY_ALIYUN_ACCESS_KEY_SECRET")
        guard (16...256).contains(secret.count), secret.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
            throw ConfigurationError("REGISTRY_ALIYUN_ACCESS_KEY_SECRET must be the AccessKey secret: 16 to 256 visible ASCII characters")
        }
        let sign = try value("REGISTRY_ALIYUN_SIGN_NAME")
        guard (2...30).contains(sign.count), !sign.contains(where: { "【】[]".contains($0) || $0.isNewline }) else {
            throw ConfigurationError("REGISTRY_ALIYUN_SIGN_NAME must be the approved sign name without 【】, e.g. 家政信用档案")
        }
        var endpoint = AliyunSMSChannel.defaultEndpoint
        if let url = env["REGISTRY_ALIYUN_ENDPOINT"], !url.isEmpty {
            guard let parsed = URLComponents(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host?.isEmpty == false,
                parsed.user == nil, parsed.password == nil, parsed.query == nil, parsed.fragment == nil
            else { throw ConfigurationError("REGISTRY_ALIYUN_ENDPOINT must be an http(s) address like https://dysmsapi.aliyuncs.com/") }
            endpoint = url
        }
        return AliyunSMSChannel.Settings(endpoint: endpoint, accessKeyID: keyID, accessKeySecret: secret, signName: sign)
    }

    static func absolute(_ path: String) -> String {
        let p = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        return (p as NSString).standardizingPath
    }
}

public struct ConfigurationError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
