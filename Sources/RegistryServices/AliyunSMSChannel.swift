import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// SMS through Alibaba Cloud SMS (阿里云短信服务, Dysmsapi `SendSms`, API version 2017-05-25),
/// signed with Alibaba Cloud's signature method V3 (`ACS3-HMAC-SHA256`), the one its SDKs use
/// and its documentation asks for (V2, HMAC-SHA1, is discontinued). Aliyun sends templates it has
/// approved, not free text: each message kind has a template code (`Policies/sms-templates.yaml`)
/// and goes with the parameters its text uses.
///
///     POST <endpoint>?OutId=…&PhoneNumbers=…&SignName=…&TemplateCode=…&TemplateParam=…   (empty body)
///     host: <endpoint host>
///     x-acs-action: SendSms
///     x-acs-version: 2017-05-25
///     x-acs-date: <UTC, yyyy-MM-ddTHH:mm:ssZ>
///     x-acs-signature-nonce: <random, once>
///     x-acs-content-sha256: <hex SHA-256 of the body>
///     Authorization: ACS3-HMAC-SHA256 Credential=<key id>,SignedHeaders=host;x-acs-…,Signature=<hex>
///
/// where Signature = hex HMAC-SHA256(secret, "ACS3-HMAC-SHA256\n" + hex SHA-256(canonical request))
/// and the canonical request is method, path, the sorted query (names and values encoded as
/// RFC 3986: all but `A-Za-z0-9-_.~` as `%XX`), the signed headers (`name:value\n`, sorted), their
/// names joined by `;`, and the body's hash, one per line.
///
/// The answer is JSON: `Code` "OK" is sent (`BizId` is the provider's id for the message);
/// throttling, an account to top up, Aliyun's own errors, 5xx and timeouts are tried again later;
/// a refused number, template, sign, parameter or credential is not. The stored reason is Aliyun's
/// code, never its message (which can quote the number or the parameters).
///
/// Aliyun keeps no idempotency for `SendSms`: `OutId` carries the message's idempotency key (as
/// is, or hashed when long) so that a repeat after a crash can be found in Aliyun's receipts.
public struct AliyunSMSChannel: MessageChannel {
    public static let defaultEndpoint = "https://dysmsapi.aliyuncs.com/"
    public static let action = "SendSms"
    public static let apiVersion = "2017-05-25"
    public static let algorithm = "ACS3-HMAC-SHA256"
    /// Aliyun's limit on one template variable's value, in characters (短信模板规范: 1 to 35).
    public static let maxParameterLength = 35
    /// The longest idempotency key sent as is in `OutId`; longer keys are sent hashed.
    public static let maxOutIDLength = 64

    public struct Settings: Sendable {
        /// `https://dysmsapi.aliyuncs.com/` unless REGISTRY_ALIYUN_ENDPOINT says otherwise.
        public var endpoint: String
        public var accessKeyID: String
        public var accessKeySecret: String
        /// The approved sign name (签名), without 【】.
        public var signName: String
        /// Message kind → approved template code (`Policies/sms-templates.yaml`).
        public var templates: [String: String]
        public var timeout: TimeAmount

        public init(
            endpoint: String = AliyunSMSChannel.defaultEndpoint,
            accessKeyID: String,
            accessKeySecret: String,
            signName: String,
            templates: [String: String] = [:],
            timeout: TimeAmount = .seconds(10)
        ) {
            self.endpoint = endpoint
            self.accessKeyID = accessKeyID
            self.accessKeySecret = accessKeySecret
            self.signName = signName
            self.templates = templates
            self.timeout = timeout
        }
    }

    let settings: Settings
    let client: HTTPClient
    let now: @Sendable () -> Date
    let nonce: @Sendable () -> String

    public init(
        _ settings: Settings,
        client: HTTPClient = .shared,
        now: @escaping @Sendable () -> Date,
        nonce: @escaping @Sendable () -> String = { UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased() }
    ) {
        self.settings = settings
        self.client = client
        self.now = now
        self.nonce = nonce
    }

    struct Answer: Decodable {
        var code: String?
        var bizID: String?
        var requestID: String?
        enum CodingKeys: String, CodingKey {
            case code = "Code"
            case bizID = "BizId"
            case requestID = "RequestId"
        }
    }

    public func send(_ message: OutgoingMessage, logger: Logger) async throws -> String? {
        guard let templateCode = settings.templates[message.kind] else { throw DeliveryError("no_template_code", retryable: false) }
        guard let endpoint = URLComponents(string: settings.endpoint), let scheme = endpoint.scheme, let host = endpoint.host else {
            throw DeliveryError("bad_endpoint", retryable: false)
        }
        var query = [
            "PhoneNumbers": Self.phoneNumber(message.recipient),
            "SignName": settings.signName,
            "TemplateCode": templateCode,
            "OutId": Self.outID(message.key),
        ]
        if !message.parameters.isEmpty { query["TemplateParam"] = Self.templateParam(message.parameters) }
        let hostHeader = host + (endpoint.port.map { ":\($0)" } ?? "")
        let path = endpoint.percentEncodedPath.isEmpty ? "/" : endpoint.percentEncodedPath
        let payloadHash = Self.hex(Data(SHA256.hash(data: Data())))
        let signed: [String: String] = [
            "host": hostHeader,
            "x-acs-action": Self.action,
            "x-acs-version": Self.apiVersion,
            "x-acs-date": Self.timestamp(now()),
            "x-acs-signature-nonce": nonce(),
            "x-acs-content-sha256": payloadHash,
        ]
        let authorization = Self.authorization(
            method: "POST",
            path: path,
            query: query,
            headers: signed,
            payloadHash: payloadHash,
            accessKeyID: settings.accessKeyID,
            secret: settings.accessKeySecret
        )
        var request = HTTPClientRequest(url: "\(scheme)://\(hostHeader)\(path)?\(Self.canonicalQuery(query))")
        request.method = .POST
        for (name, value) in signed.sorted(by: { $0.key < $1.key }) { request.headers.add(name: name, value: value) }
        request.headers.add(name: "Authorization", value: authorization)
        request.headers.add(name: "Accept", value: "application/json")
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: settings.timeout, logger: logger)
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            throw DeliveryError("timeout")
        } catch {
            throw DeliveryError("unreachable")
        }
        let body = try? await response.body.collect(upTo: 64 * 1024)
        let answer = body.flatMap { try? JSONDecoder().decode(Answer.self, from: Data($0.readableBytesView)) }
        if let failure = Self.failure(status: Int(response.status.code), code: answer?.code) {
            logger.debug("Aliyun refused the message", metadata: ["code": "\(failure.reason)", "request_id": "\(answer?.requestID ?? "-")"])
            throw failure
        }
        return answer?.bizID
    }

    /// What an answer means: nil when the message was accepted (`Code` "OK"), else why not and
    /// whether trying again later can help.
    public static func failure(status: Int, code: String?) -> DeliveryError? {
        guard let code, !code.isEmpty else {
            if (200..<300).contains(status) { return DeliveryError("no_code") }  // an answer Aliyun does not give: try again
            return DeliveryError("http_\(status)", retryable: !(400..<500).contains(status) || status == 429)
        }
        if code == "OK", (200..<300).contains(status) { return nil }
        let reason = String(code.filter { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }.prefix(64))
        if retryableCodes.contains(code) || code.hasPrefix("Throttling") || code.hasPrefix("isp.") || status >= 500 {
            return DeliveryError(reason)
        }
        return DeliveryError(reason, retryable: false)
    }

    /// Codes that time, Aliyun or a topped-up account mend. Everything else Aliyun refuses
    /// (isv.MOBILE_NUMBER_ILLEGAL, isv.SMS_TEMPLATE_ILLEGAL, isv.SMS_SIGNATURE_ILLEGAL,
    /// isv.INVALID_PARAMETERS, InvalidAccessKeyId.*, SignatureDoesNotMatch, …) is final.
    static let retryableCodes: Set<String> = [
        "isv.BUSINESS_LIMIT_CONTROL",  // per-number flow control: a minute, an hour, a day later it goes
        "isv.DAY_LIMIT_CONTROL",
        "isv.OUT_OF_SERVICE",  // the account is suspended for arrears: goes once topped up
        "isv.AMOUNT_NOT_ENOUGH",
        "ServiceUnavailable",
        "InternalError",
        "SignatureNonceUsed",  // a nonce seen before: the next attempt has a new one
    ]

    /// `Authorization` for a request, by Alibaba Cloud's signature method V3.
    public static func authorization(
        method: String,
        path: String,
        query: [String: String],
        headers: [String: String],
        payloadHash: String,
        accessKeyID: String,
        secret: String
    ) -> String {
        let names = headers.keys.map { $0.lowercased() }.sorted()
        let lowered = Dictionary(headers.map { ($0.key.lowercased(), $0.value.trimmingCharacters(in: .whitespaces)) }) { first, _ in first }
        let canonicalHeaders = names.map { "\($0):\(lowered[$0] ?? "")\n" }.joined()
        let signedHeaders = names.joined(separator: ";")
        let canonicalRequest = [method, canonicalPath(path), canonicalQuery(query), canonicalHeaders, signedHeaders, payloadHash].joined(
            separator: "\n"
        )
        let stringToSign = algorithm + "\n" + hex(Data(SHA256.hash(data: Data(canonicalRequest.utf8))))
        let signature = hex(Data(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: SymmetricKey(data: Data(secret.utf8)))))
        return "\(algorithm) Credential=\(accessKeyID),SignedHeaders=\(signedHeaders),Signature=\(signature)"
    }

    /// Names and values encoded, sorted by name, joined with `&` (also the query sent).
    public static func canonicalQuery(_ query: [String: String]) -> String {
        query.map { (percentEncode($0.key), percentEncode($0.value)) }.sorted { $0.0 < $1.0 }.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    /// RFC 3986: `A-Z a-z 0-9 - _ . ~` as they are, every other UTF-8 byte as `%XX`.
    public static func percentEncode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.append(Character(Unicode.Scalar(byte)))
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    /// Each segment of an already encoded path decoded and encoded again, `/` kept.
    static func canonicalPath(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { percentEncode(String($0).removingPercentEncoding ?? String($0)) }
            .joined(separator: "/")
    }

    /// The template's parameters as Aliyun wants them: a JSON object of strings, each value 1 to
    /// 35 characters (a longer one cut, ending in "…"; an empty one "-").
    public static func templateParam(_ parameters: [String: String]) -> String {
        let fitted = parameters.mapValues { value -> String in
            let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty { return "-" }
            if trimmed.count <= maxParameterLength { return trimmed }
            return String(trimmed.prefix(maxParameterLength - 1)) + "…"
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(fitted)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// The idempotency key when it is short and plain; else `k` and 32 hex digits of its SHA-256.
    public static func outID(_ key: String) -> String {
        if key.count <= maxOutIDLength, key.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) { return key }
        return "k" + String(hex(Data(SHA256.hash(data: Data(key.utf8)))).prefix(32))
    }

    /// Aliyun's form of a number: a Chinese mobile as its 11 digits, another as country code and
    /// number without `+`.
    static func phoneNumber(_ recipient: String) -> String {
        recipient.hasPrefix("+") ? String(recipient.dropFirst()) : recipient
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(timeZone: TimeZone(identifier: "UTC")!))
    }

    static func hex<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        bytes.map { String(format: "%02x", $0) }.joined()
    }
}
