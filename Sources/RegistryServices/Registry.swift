import Foundation
import Logging
import RegistryDomain
import RegistrySecurity
import RegistryStorage

/// The assembled services of one running registry: what the HTTP layer and the CLI call.
public struct Registry: Sendable {
    public let configuration: Configuration
    public let policies: PolicySet
    public let database: Database
    public let keys: KeyRing
    /// Now, for every service: the system clock in service, moved forward by tests.
    public let clock: RegistryClock
    public let auth: AuthService
    public let agencies: AgencyService
    public let workers: WorkerService
    public let workerImport: WorkerImport
    public let transfers: TransferService
    public let accounts: AccountService
    public let consents: ConsentService
    public let engagements: EngagementService
    public let reports: ReportService
    public let publicLists: PublicListService
    public let exchange: ExchangeService
    public let commitments: CommitmentService
    public let demerits: DemeritService
    public let householdReviews: HouseholdReviewService
    public let flags: FlagService
    public let flagImport: FlagImport
    public let grading: GradingService
    public let cases: CaseService
    public let migrator: Migrator
    public let audit: AuditService
    public let dashboard: DashboardService
    /// The texts of the messages sent to people.
    public let messageTemplates: MessageTemplates
    /// The outbox as administrators see it.
    public let messages: MessageService
    /// Pruning of spent sessions, codes, throttle rows and nonces.
    public let housekeeping: Housekeeping
    /// Phone numbers and e-mail addresses that change.
    public let contacts: ContactService
    public let tenureDisputes: TenureDisputeService
    public let repairs: CreditRepairService
    public let nodes: NodeService

    public init(
        configuration: Configuration,
        policies: PolicySet,
        database: Database,
        keys: KeyRing,
        clock: RegistryClock = .system,
        hasher: PasswordHasher = PasswordHasher()
    ) throws {
        self.configuration = configuration
        self.policies = policies
        self.database = database
        self.keys = keys
        self.clock = clock
        self.auth = AuthService(
            database: database,
            clock: clock,
            policy: policies.authentication,
            commitments: policies.commitments,
            hasher: hasher
        )
        self.agencies = AgencyService(
            database: database,
            hasher: hasher,
            authentication: policies.authentication,
            commitments: policies.commitments
        )
        self.flags = FlagService(
            database: database,
            clock: clock,
            keys: keys,
            policy: policies.flags,
            cases: CaseService(database: database, clock: clock, policy: policies.revocation)
        )
        self.flagImport = FlagImport(database: database, clock: clock, keys: keys, policy: policies.flags, flags: flags)
        self.grading = try GradingService(database: database, clock: clock, policy: policies.grading)
        self.cases = CaseService(database: database, clock: clock, policy: policies.revocation)
        self.workers = WorkerService(database: database, clock: clock, keys: keys, policy: policies.custody, flags: flags, sectors: policies.sectors)
        self.workerImport = WorkerImport(
            database: database,
            clock: clock,
            keys: keys,
            policy: policies.custody,
            flags: flags,
            sectors: policies.sectors
        )
        self.transfers = TransferService(database: database, clock: clock, keys: keys, policy: policies.custody, demerits: policies.demerits)
        self.accounts = AccountService(database: database, hasher: hasher, authentication: policies.authentication, reports: policies.reports)
        self.consents = ConsentService(database: database, policy: policies.reports, throttle: policies.authentication.loginThrottle)
        self.engagements = EngagementService(
            database: database,
            clock: clock,
            policy: policies.reports,
            sectors: policies.sectors,
            demerits: policies.demerits,
            households: policies.households
        )
        self.publicLists = PublicListService(database: database, clock: clock, keys: keys, policies: policies)
        self.commitments = CommitmentService(database: database, policy: policies.commitments)
        self.demerits = DemeritService(database: database, clock: clock, policy: policies.demerits)
        self.householdReviews = HouseholdReviewService(database: database, clock: clock, policy: policies.households)
        self.exchange = ExchangeService(database: database, keys: keys, policies: policies, flags: flags)
        self.reports = ReportService(
            database: database,
            clock: clock,
            keys: keys,
            policy: policies.reports,
            custody: policies.custody,
            sectors: policies.sectors,
            redList: policies.publication.redList,
            demerits: policies.demerits
        )
        self.migrator = try Migrator(directory: configuration.migrationsDirectory)
        self.audit = AuditService(database: database, keys: keys, clock: clock, checkpointsFile: configuration.checkpointsFile)
        self.dashboard = DashboardService(database: database)
        self.messageTemplates = try MessageTemplates.load(directory: configuration.messagesDirectory)
        self.messages = MessageService(database: database, demoMode: configuration.demoMode)
        self.housekeeping = Housekeeping(database: database, clock: clock)
        self.nodes = NodeService(
            configuration: configuration,
            schemaVersion: migrator.migrations.last?.version ?? 0,
            database: database,
            clock: clock
        )
        self.contacts = ContactService(database: database, clock: clock, policy: policies.reports)
        self.tenureDisputes = TenureDisputeService(database: database, clock: clock, demerits: policies.demerits)
        self.repairs = CreditRepairService(database: database, clock: clock, policy: policies.flags, evidence: policies.revocation)
        if configuration.smsProvider == .aliyun, let aliyun = configuration.aliyunSMS {
            try Self.checkSMSTemplates(policies, kinds: messageTemplates.kinds, endpoint: aliyun.endpoint, directory: configuration.policiesDirectory)
        }
    }

    /// The outbox's dispatcher with the configured channels: SMS through the chosen provider (the
    /// provider-neutral gateway or Alibaba Cloud SMS, with `sms-templates.yaml`'s codes), e-mail
    /// through the configured SMTP relay; in demo mode, whatever has no channel goes to the demo
    /// mailbox. Outside demo mode a message whose channel is not configured (e-mail without
    /// REGISTRY_SMTP_URL) becomes a dead letter at once (`no_email_channel`), which an
    /// administrator sends again once the channel is configured.
    public func outboxDispatcher(channels: [String: any MessageChannel]? = nil) -> OutboxDispatcher {
        var configured: [String: any MessageChannel] = [:]
        if configuration.demoMode {
            configured["sms"] = DemoMailboxChannel(database: database)
            configured["email"] = DemoMailboxChannel(database: database)
        }
        switch configuration.smsProvider {
        case .gateway:
            if let gateway = configuration.smsGateway {
                configured["sms"] = HTTPGatewayChannel(gateway, now: { [clock] in clock.now })
            }
        case .aliyun:
            if var aliyun = configuration.aliyunSMS {
                aliyun.templates = policies.smsTemplates.templates
                configured["sms"] = AliyunSMSChannel(aliyun, now: { [clock] in clock.now })
            }
        }
        if let smtp = configuration.smtp {
            configured["email"] = SMTPChannel(smtp, now: { [clock] in clock.now })
        }
        return OutboxDispatcher(database: database, policy: policies.messages, templates: messageTemplates, channels: channels ?? configured)
    }

    /// With Alibaba Cloud SMS: every message kind has a template code (or is not sent by SMS), and
    /// none is still a shipped placeholder when the endpoint is Aliyun's own.
    static func checkSMSTemplates(_ policies: PolicySet, kinds: Set<String>, endpoint: String, directory: String) throws {
        try policies.checkSMSTemplates(kinds: kinds, directory: directory)
        let placeholders = policies.smsTemplates.placeholders
        if !placeholders.isEmpty, URLComponents(string: endpoint)?.host?.hasSuffix("aliyuncs.com") == true {
            throw PolicyLoadError(
                file: directory + "/sms-templates.yaml",
                line: nil,
                problem:
                    "\(placeholders.joined(separator: ", ")) still have placeholder template codes (SMS_0000000NN): replace them with the codes Aliyun approved"
            )
        }
    }

    /// Readiness: the database answers and every migration is applied.
    public func isReady(logger: Logger) async -> Bool {
        guard database.isReachable else { return false }
        // Answer within 2 seconds even when the database has just gone away (the monitor will
        // notice within a second or two; until then a query could wait for a connection).
        let migrator = self.migrator
        let database = self.database
        return await Database.answer(within: .seconds(2)) { await migrator.isCurrent(database: database, logger: logger) }
    }
}
