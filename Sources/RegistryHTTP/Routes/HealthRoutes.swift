import Foundation
import Hummingbird
import Prometheus
import RegistryServices
import RegistryStorage

/// Liveness, readiness, metrics and the API description.
struct HealthRoutes {
    let registry: Registry
    let metrics: PrometheusCollectorRegistry

    struct Status: Codable, Sendable {
        var status: String
        var checks: [String: String]?
    }

    static func metricsResponse(_ metrics: PrometheusCollectorRegistry) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: metrics.emitToBuffer()))
        )
    }

    func register(on routes: ProtectedRouter) {
        routes.get("/health/live", action: "health.read") { _, _ in
            JSONResponse(Status(status: "ok"))
        }
        routes.get("/health/ready", action: "health.read") { _, context in
            let ready = await registry.isReady(logger: context.logger)
            return JSONResponse(
                Status(status: ready ? "ok" : "unavailable", checks: ["database": ready ? "ok" : "unreachable or migrations pending"]),
                status: ready ? .ok : .serviceUnavailable
            )
        }
        // Metrics name routes, counts and timings of the whole service: administrators only here;
        // a scraper uses the separate listener (REGISTRY_METRICS_ADDRESS) on a private network.
        routes.get("/metrics", action: "metrics.read") { _, _ in
            Self.metricsResponse(metrics)
        }
        let openAPIPath = registry.configuration.webDirectory + "/openapi.yaml"
        routes.get("/openapi.yaml", action: "health.read") { _, _ in
            guard let data = FileManager.default.contents(atPath: openAPIPath) else {
                throw HTTPError(.notFound)
            }
            return Response(
                status: .ok,
                headers: [.contentType: "application/yaml; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: data))
            )
        }
    }
}
