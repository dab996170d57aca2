import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus
import RegistryDomain
import RegistryServices
import RegistryStorage
import ServiceLifecycle

/// One Prometheus registry per process (the metrics system can be bootstrapped only once).
public enum RegistryMetrics {
    public static let collector: PrometheusCollectorRegistry = {
        let collector = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: collector))
        return collector
    }()
}

/// The router with every route, its middleware and the table of routes → actions.
public func buildRouter(_ registry: Registry) -> (Router<AppRequestContext>, [RouteDescription]) {
    let metrics = RegistryMetrics.collector
    let router = Router(context: AppRequestContext.self)
    router.add(middleware: RequestIDMiddleware())
    router.add(middleware: MetricsMiddleware())
    router.add(middleware: SecurityHeadersMiddleware(strictTransportSecurity: registry.configuration.secureCookies))
    router.add(middleware: ErrorMiddleware())
    router.add(middleware: AuthenticationMiddleware(registry: registry))

    let routes = ProtectedRouter(router: router, access: registry.policies.access)
    HealthRoutes(registry: registry, metrics: metrics).register(on: routes)
    SectorRoutes(registry: registry).register(on: routes)
    PublicListRoutes(registry: registry).register(on: routes)
    CommitmentRoutes(registry: registry).register(on: routes)
    DemeritRoutes(registry: registry).register(on: routes)
    HouseholdReviewRoutes(registry: registry).register(on: routes)
    AuthRoutes(registry: registry).register(on: routes)
    AuditRoutes(registry: registry).register(on: routes)
    MessageRoutes(registry: registry).register(on: routes)
    JobRoutes(registry: registry).register(on: routes)
    ContactRoutes(registry: registry).register(on: routes)
    AgencyRoutes(registry: registry).register(on: routes)
    WorkerRoutes(registry: registry).register(on: routes)
    TransferRoutes(registry: registry).register(on: routes)
    EmployerRoutes(registry: registry).register(on: routes)
    FlagRoutes(registry: registry).register(on: routes)
    GradeRoutes(registry: registry).register(on: routes)
    CaseRoutes(registry: registry).register(on: routes)
    DueProcessRoutes(registry: registry).register(on: routes)
    PageRoutes(registry: registry).register(on: routes)
    return (router, routes.routes)
}

/// The HTTP application with its background services.
public func buildApplication(
    _ registry: Registry,
    logger: Logger,
    extraServices: [any Service] = []
)
    -> some ApplicationProtocol
{
    let (router, _) = buildRouter(registry)
    let services: [any Service] =
        [
            PeriodicService.databaseMonitor(registry.database, logger: logger),
            PeriodicService.auditSequencer(registry.database, logger: logger),
            PeriodicService.notifications(registry.outboxDispatcher(), logger: logger),
            PeriodicService.gradeQueue(registry.grading, logger: logger),
            PeriodicService.nodeHeartbeat(registry.nodes, logger: logger),
            PeriodicService.replicaMonitor(registry.database, logger: logger),
        ] + registry.scheduler.services(logger: logger) + extraServices + metricsListener(registry, logger: logger)
    return Application(
        router: router,
        // A client that stops sending (slowloris, a cut mobile connection) is closed after the
        // idle timeout instead of holding its connection and handler open.
        server: .http1(configuration: .init(idleTimeout: .seconds(Int64(registry.configuration.idleTimeout)))),
        configuration: .init(
            address: .hostname(registry.configuration.host, port: registry.configuration.port),
            serverName: "registry"
        ),
        services: services,
        logger: logger
    )
}

/// The separate metrics listener, when `REGISTRY_METRICS_ADDRESS` names one: `GET /metrics` only.
func metricsListener(_ registry: Registry, logger: Logger) -> [any Service] {
    guard let host = registry.configuration.metricsHost, let port = registry.configuration.metricsPort else { return [] }
    let metrics = RegistryMetrics.collector
    let router = Router()
    router.get("/metrics") { _, _ in HealthRoutes.metricsResponse(metrics) }
    return [
        Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "registry-metrics"),
            logger: logger
        )
    ]
}
