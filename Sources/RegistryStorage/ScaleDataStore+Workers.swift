import Foundation
import Logging
import NIOCore
import PostgresNIO

extension ScaleDataStore {
    /// Which of these blind indexes already have a file (another set, or real files).
    public static func existingBlindIndexes(_ blindIndexes: [[UInt8]], database: Database, logger: Logger) async throws -> Set<[UInt8]> {
        var taken = Set<[UInt8]>()
        let blinds = blindIndexes.map { ByteBuffer(bytes: $0) }
        let rows = try await database.query("SELECT id_blind_index FROM workers WHERE id_blind_index = ANY(\(blinds)::bytea[])", logger: logger)
        for try await b in rows.decode(ByteBuffer.self) { taken.insert(Array(b.readableBytesView)) }
        return taken
    }

    /// A batch of workers with their tenures and transfers, streamed with COPY in the COPY text
    /// format (`CopyLine`), one line per row in the columns named here; `transfers` may be empty.
    public static func copyWorkers(
        _ workers: ByteBuffer,
        tenures: ByteBuffer,
        transfers: ByteBuffer,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        try await connection.copyFrom(
            table: "workers",
            columns: [
                "id", "id_ciphertext", "id_blind_index", "full_name", "birth_date", "sex", "phone", "home_region", "service_categories",
                "current_agency_id", "status", "registered_at", "registered_by", "available_for_hire", "available_since",
            ],
            logger: logger
        ) { writer in try await writer.write(workers) }
        try await connection.copyFrom(
            table: "tenures",
            columns: [
                "id", "worker_id", "agency_id", "started_on", "ended_on", "work_ability", "health_status", "feedback_summary", "ethics_rating",
                "ethics_note", "sealed_at", "sealed_by", "sealed_how", "created_at", "updated_at",
            ],
            logger: logger
        ) { writer in try await writer.write(tenures) }
        if transfers.readableBytes > 0 {
            try await connection.copyFrom(
                table: "transfers",
                columns: [
                    "id", "worker_id", "from_agency_id", "to_agency_id", "status", "requested_at", "requested_by", "consent_code_hash",
                    "consent_code_expires_at", "consented_at", "consent_method", "seal_deadline", "completed_at", "completed_how",
                ],
                logger: logger
            ) { writer in try await writer.write(transfers) }
        }
    }
}
