import Foundation
import Hummingbird
import RegistryServices

/// The server-rendered pages (zh-CN and English) over the same services as the JSON API.
/// Every route goes through `ProtectedRouter` with its action from `Policies/access.yaml`.
struct PageRoutes {
    let registry: Registry

    func register(on routes: ProtectedRouter) {
        let kit: PageKit
        do {
            kit = try PageKit(registry: registry, webDirectory: registry.configuration.webDirectory)
        } catch {
            // Like a bad policy file: the service must not start with broken pages.
            preconditionFailure("cannot load the web pages from \(registry.configuration.webDirectory): \(error)")
        }
        // Applies to the routes registered after it: the pages below.
        routes.router.add(middleware: PageErrorMiddleware(kit: kit))

        SessionPages(kit: kit).register(on: routes)
        PublicListPages(kit: kit).register(on: routes)
        HirePages(kit: kit).register(on: routes)
        CommitmentPages(kit: kit).register(on: routes)
        AgencyApplicationPages(kit: kit).register(on: routes)
        AdminPages(kit: kit).register(on: routes)
        AgencyHomePages(kit: kit).register(on: routes)
        WorkerPages(kit: kit).register(on: routes)
        WorkerRecordPages(kit: kit).register(on: routes)
        TransferPages(kit: kit).register(on: routes)
        PlacementPages(kit: kit).register(on: routes)
        ImportPages(kit: kit).register(on: routes)
        EmployerPages(kit: kit).register(on: routes)
        WorkerSelfPages(kit: kit).register(on: routes)
        CasePages(kit: kit).register(on: routes)
        DueProcessPages(kit: kit).register(on: routes)
        DashboardPages(kit: kit).register(on: routes)
        IntegrationPages(kit: kit).register(on: routes)
        AuditPages(kit: kit).register(on: routes)
        MessagePages(kit: kit).register(on: routes)
        JobPages(kit: kit).register(on: routes)
        ContactPages(kit: kit).register(on: routes)
        DisputePages(kit: kit).register(on: routes)
        DemeritPages(kit: kit).register(on: routes)
        AgencyPublicPages(kit: kit).register(on: routes)
        HouseholdPages(kit: kit).register(on: routes)
        RepairPages(kit: kit).register(on: routes)
    }
}
