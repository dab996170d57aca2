import Foundation
import Hummingbird
import RegistryDomain
import RegistryServices

/// Workers review households: her review after an engagement ended, her answer to a placement
/// flagged by a household's substantiated complaints, the household's reply and dispute, a
/// household's reviews for those who may read them, and the administrators' queue and decision.
struct HouseholdReviewRoutes {
    let registry: Registry

    struct WarningAnswer: Decodable { var accept: Bool }
    struct Reply: Decodable { var reply: String }
    struct Dispute: Decodable { var reason: String }
    struct Decision: Decodable {
        var decision: String
        var note: String
    }
    struct Reviews: Encodable, Sendable { var reviews: [HouseholdReviewService.Review] }

    func register(on routes: ProtectedRouter) {
        routes.post("/api/v1/engagements/{id}/household-review", action: "household_reviews.write") { request, context in
            let body = try await request.decodeJSON(HouseholdReviewService.NewReview.self, context: context)
            let review = try await registry.householdReviews.write(
                engagement: try context.parameters.uuid("id"),
                body,
                caller: context.caller,
                logger: context.logger
            )
            return JSONResponse(review, status: .created)
        }
        routes.get("/api/v1/me/household-reviews", action: "household_reviews.write") { _, context in
            JSONResponse(Reviews(reviews: try await registry.householdReviews.own(caller: context.caller, logger: context.logger)))
        }
        routes.post("/api/v1/engagements/{id}/warning-answer", action: "engagements.answer") { request, context in
            let body = try await request.decodeJSON(WarningAnswer.self, context: context)
            return JSONResponse(
                try await registry.engagements.answerWarning(
                    try context.parameters.uuid("id"),
                    accept: body.accept,
                    caller: context.caller,
                    logger: context.logger
                )
            )
        }
        routes.get("/api/v1/households/{id}/reviews", action: "household_reviews.read") { _, context in
            JSONResponse(
                try await registry.householdReviews.household(try context.parameters.uuid("id"), caller: context.caller, logger: context.logger)
            )
        }
        routes.post("/api/v1/household-reviews/{id}/reply", action: "household_reviews.answer") { request, context in
            let body = try await request.decodeJSON(Reply.self, context: context)
            return JSONResponse(
                try await registry.householdReviews.reply(
                    try context.parameters.uuid("id"),
                    text: body.reply,
                    caller: context.caller,
                    logger: context.logger
                )
            )
        }
        routes.post("/api/v1/household-reviews/{id}/dispute", action: "household_reviews.answer") { request, context in
            let body = try await request.decodeJSON(Dispute.self, context: context)
            return JSONResponse(
                try await registry.householdReviews.dispute(
                    try context.parameters.uuid("id"),
                    reason: body.reason,
                    caller: context.caller,
                    logger: context.logger
                )
            )
        }
        routes.get("/api/v1/household-reviews", action: "household_reviews.decide") { _, context in
            JSONResponse(Reviews(reviews: try await registry.householdReviews.queue(caller: context.caller, logger: context.logger)))
        }
        routes.post("/api/v1/household-reviews/{id}/decision", action: "household_reviews.decide") { request, context in
            let body = try await request.decodeJSON(Decision.self, context: context)
            return JSONResponse(
                try await registry.householdReviews.decide(
                    try context.parameters.uuid("id"),
                    decision: body.decision,
                    note: body.note,
                    caller: context.caller,
                    logger: context.logger
                )
            )
        }
    }
}
