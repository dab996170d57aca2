import Foundation
import Hummingbird
import RegistryDomain
import RegistryServices
import RegistryStorage

/// The agency staff's start page: their agency, its standing, and what awaits them.
struct AgencyHomePages {
    let kit: PageKit

    func register(on routes: ProtectedRouter) {
        routes.get("/agency", action: "workers.roster") { request, context in
            let page = kit.scope(request, context)
            guard let agencyID = page.caller.principal.agencyID else { throw RegistryError.forbidden }
            let agency = try await page.registry.agencies.get(agencyID, caller: page.caller, logger: context.logger)
            var values: [String: Any] = ["agency": AdminPages.view(agency, page: page)]
            let working = agency.status == "approved" || agency.status == "suspended"
            values["working"] = working
            values["can_write"] = agency.status == "approved"
            if working {
                let open = try await page.registry.transfers.list(openOnly: true, caller: page.caller, logger: context.logger)
                values["incoming_open"] = String(open.filter { $0.toAgencyId == agency.id.text }.count)
                values["outgoing_open"] = String(open.filter { $0.fromAgencyId == agency.id.text }.count)
                let red = try await page.registry.publicLists.redListCount(caller: page.caller, logger: context.logger)
                values["red_list"] = page.t.text("agency_home.red_list", ["listed": String(red.onRedList), "workers": String(red.workers)])
            }
            return page.render("agency_home", values)
        }
    }
}
