import Foundation
import Hummingbird
import RegistryDomain
import RegistryServices

/// Administrators: the outbox (messages by state) and its dead letters, each with a button that
/// sends it again; in demo mode, the demo mailbox with what the demo "texted".
struct MessagePages {
    let kit: PageKit

    func register(on routes: ProtectedRouter) {
        routes.get("/admin/messages", action: "messages.read") { request, context in
            let page = kit.scope(request, context)
            let overview = try await page.registry.messages.overview(logger: context.logger)
            let states = ["pending", "sending", "sent", "dead"].map { state -> [String: Any] in
                ["state": state, "label": page.t.text("messages.state_\(state)"), "count": overview.counts[state] ?? 0]
            }
            let dead = overview.dead.map { m -> [String: Any] in
                [
                    "id": String(m.id), "channel": m.channel, "recipient": m.recipient, "kind": m.kind, "attempts": m.attempts,
                    "last_error": m.lastError ?? "-", "created_at": PageScope.dateTime(m.createdAt),
                ]
            }
            var values: [String: Any] = ["states": states, "dead": dead, "has_dead": !dead.isEmpty, "demo": page.registry.configuration.demoMode]
            if let notice = request.uri.queryParameters["notice"], notice == "retried" { values["notice"] = page.t.text("messages.retried") }
            return page.render("admin_messages", values)
        }

        routes.post("/admin/messages/{id}/retry", action: "messages.retry") { request, context in
            let page = kit.scope(request, context)
            _ = try await page.form()
            try await page.registry.messages.retry(try MessageRoutes.messageID(context), caller: page.caller, logger: context.logger)
            return page.redirect("/admin/messages?notice=retried")
        }

        routes.get("/demo/outbox", action: "demo.mailbox") { request, context in
            let page = kit.scope(request, context)
            let messages = try await page.registry.messages.demoMailbox(logger: context.logger).map { m -> [String: Any] in
                ["channel": m.channel, "recipient": m.recipient, "kind": m.kind, "body": m.body, "delivered_at": PageScope.dateTime(m.deliveredAt)]
            }
            return page.render("demo_outbox", ["messages": messages])
        }
    }
}
