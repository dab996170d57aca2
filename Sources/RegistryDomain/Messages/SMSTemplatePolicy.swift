/// The template codes an SMS provider that sends only approved templates knows the registry's
/// message kinds by (`Policies/sms-templates.yaml`): Alibaba Cloud SMS sends a template code and
/// the template's parameters, never free text.
public struct SMSTemplatePolicy: Sendable, Equatable, Decodable {
    public var version: Int
    /// Message kind → the provider's template code (`SMS_` and digits).
    public var templates: [String: String]
    /// Kinds sent only by e-mail, which need no SMS template.
    public var notSMS: [String]

    enum CodingKeys: String, CodingKey {
        case version
        case templates
        case notSMS = "not_sms"
    }

    public init(version: Int = 1, templates: [String: String] = [:], notSMS: [String] = []) {
        self.version = version
        self.templates = templates
        self.notSMS = notSMS
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        version = try c.decode(Int.self, forKey: .version)
        templates = try c.decodeIfPresent([String: String].self, forKey: .templates) ?? [:]
        notSMS = try c.decodeIfPresent([String].self, forKey: .notSMS) ?? []
    }

    /// The shape of the file: template codes look like the provider's (`SMS_` and 1 to 20 digits),
    /// no kind is both sent by SMS and not.
    public func validate() throws(PolicyError) {
        guard version == 1 else { throw PolicyError(path: ["version"], message: "must be 1") }
        for kind in templates.keys.sorted() {
            let code = templates[kind] ?? ""
            guard Self.isTemplateCode(code) else {
                throw PolicyError(path: ["templates", kind], message: "'\(code)' is not a template code (SMS_ and 1 to 20 digits)")
            }
            if notSMS.contains(kind) {
                throw PolicyError(path: ["templates", kind], message: "'\(kind)' is also listed in not_sms")
            }
        }
    }

    /// Every kind the message texts declare has a template code unless it is listed as not sent
    /// by SMS, and the file names no kind the texts do not know. Checked when the provider needs
    /// template codes.
    public func check(kinds: Set<String>) throws(PolicyError) {
        for kind in kinds.sorted() where templates[kind] == nil && !notSMS.contains(kind) {
            throw PolicyError(
                path: ["templates"],
                message: "the message kind '\(kind)' has no template code (add the code the provider approved, or list it in not_sms)"
            )
        }
        for kind in Set(templates.keys).union(notSMS).sorted() where !kinds.contains(kind) {
            throw PolicyError(path: ["templates", kind], message: "'\(kind)' is not a message kind (Web/i18n/messages/zh-CN.yaml)")
        }
    }

    /// The kinds whose code is still one of the shipped placeholders (`SMS_0000000NN`).
    public var placeholders: [String] {
        templates.filter { $0.value.hasPrefix("SMS_0000000") }.keys.sorted()
    }

    static func isTemplateCode(_ code: String) -> Bool {
        guard code.hasPrefix("SMS_") else { return false }
        let digits = code.dropFirst(4)
        return (1...20).contains(digits.count) && digits.allSatisfy { $0.isASCII && $0.isNumber }
    }
}
