/// The JSON texts a grade is stored with (`grades.skill_levels`, `grades.reasons`,
/// `grades.computation`), written directly: the same documents as the `Codable` encodings (read
/// back with them), without an encoder's cost for each of a million workers.
extension GradeResult {
    /// `skill_levels` as stored: `{"elder_care":4}`.
    public var skillLevelsJSON: String {
        var out = GradeJSON()
        out.object(skillLevels.keys.map(\.rawValue).sorted()) { out, name in
            out.int(skillLevels[ServiceCategory(name)]!)
        }
        return out.text
    }

    /// `reasons` as stored: the array of `GradeReason` in its `Codable` form.
    public var reasonsJSON: String {
        var out = GradeJSON()
        out.array(reasons) { out, reason in reason.write(to: &out) }
        return out.text
    }

    /// The stored computation: the compact form, not the whole calculation (which
    /// `Grader.grade` of the same inputs gives with every piece of evidence). It keeps the
    /// totals of each part and every factor's effect on the composite by code (what a later
    /// change of grade can compare factor by factor):
    /// `{"policy_version", "today", "ethics": {score, raw, mean, evidence_weight, flag_penalty},
    /// "skill": {score, raw, mean, evidence_weight, best_level, level_points, training_points,
    /// health, health_penalty}, "composite": {value, band, grade}, "contributions": {code: points}}`.
    public var computationJSON: String {
        let c = computation
        var out = GradeJSON()
        out.raw("{\"policy_version\":")
        out.string(c.policyVersion)
        out.raw(",\"today\":")
        out.string(c.today.iso)
        out.raw(",\"ethics\":{\"score\":")
        out.double(c.ethics.score)
        out.raw(",\"raw\":")
        out.double(c.ethics.raw)
        out.raw(",\"mean\":")
        out.double(c.ethics.reviewsAndRatings.mean)
        out.raw(",\"evidence_weight\":")
        out.double(c.ethics.reviewsAndRatings.evidenceWeight)
        out.raw(",\"flag_penalty\":")
        out.double(c.ethics.flagPenalty)
        out.raw("},\"skill\":{\"score\":")
        out.double(c.skill.score)
        out.raw(",\"raw\":")
        out.double(c.skill.raw)
        out.raw(",\"mean\":")
        out.double(c.skill.reviews.mean)
        out.raw(",\"evidence_weight\":")
        out.double(c.skill.reviews.evidenceWeight)
        if let best = c.skill.bestLevel {
            out.raw(",\"best_level\":")
            out.int(best)
        }
        out.raw(",\"level_points\":")
        out.double(c.skill.levelPoints)
        out.raw(",\"training_points\":")
        out.double(c.skill.trainingPoints)
        out.raw(",\"health\":")
        out.string(c.skill.health)
        out.raw(",\"health_penalty\":")
        out.double(c.skill.healthPenalty)
        out.raw("},\"composite\":{\"value\":")
        out.double(c.composite.value)
        out.raw(",\"band\":")
        out.string(c.composite.band.rawValue)
        out.raw(",\"grade\":")
        out.string(c.composite.grade.rawValue)
        out.raw("},\"contributions\":")
        out.raw("{")
        for (i, contribution) in c.contributions.enumerated() {
            if i > 0 { out.raw(",") }
            out.string(contribution.code)
            out.raw(":")
            out.double(contribution.composite)
        }
        out.raw("}}")
        return out.text
    }
}

extension GradeChange {
    /// The history entry as stored (`grade_history.reasons`): the `Codable` document
    /// (`from_grade` and `from_composite` absent for a first grade).
    public var json: String {
        var out = GradeJSON()
        out.raw("{\"composite\":")
        out.double(composite)
        out.raw(",\"reasons\":")
        out.array(reasons) { out, reason in reason.write(to: &out) }
        out.raw(",\"cause\":")
        out.string(cause)
        out.raw(",\"movers\":")
        out.array(movers) { out, mover in
            out.raw("{\"factor\":")
            out.string(mover.factor)
            out.raw(",\"before\":")
            out.double(mover.before)
            out.raw(",\"after\":")
            out.double(mover.after)
            out.raw(",\"change\":")
            out.double(mover.change)
            out.raw("}")
        }
        if let fromGrade {
            out.raw(",\"from_grade\":")
            out.string(fromGrade.rawValue)
        }
        out.raw(",\"to_grade\":")
        out.string(toGrade.rawValue)
        if let fromComposite {
            out.raw(",\"from_composite\":")
            out.double(fromComposite)
        }
        out.raw(",\"policy_version\":")
        out.string(policyVersion)
        out.raw(",\"policy_changed\":")
        out.raw(policyChanged ? "true" : "false")
        out.raw("}")
        return out.text
    }
}

extension GradeReason {
    /// The `Codable` form: `{"code", "kind", "contribution"?, "params"?}`.
    func write(to out: inout GradeJSON) {
        out.raw("{\"code\":")
        out.string(code)
        out.raw(",\"kind\":")
        out.string(kind.rawValue)
        if let contribution {
            out.raw(",\"contribution\":")
            out.double(contribution)
        }
        if !params.isEmpty {
            out.raw(",\"params\":")
            out.object(params.keys.sorted()) { out, key in out.string(params[key]!) }
        }
        out.raw("}")
    }
}

/// A JSON text written piece by piece.
struct GradeJSON {
    var text = ""

    init() { text.reserveCapacity(512) }

    mutating func raw(_ s: String) { text += s }

    mutating func int(_ n: Int) { text += String(n) }

    /// A finite number in its shortest form that reads back to the same value; null otherwise.
    mutating func double(_ x: Double) {
        text += x.isFinite ? x.description : "null"
    }

    mutating func string(_ s: String) {
        text += "\""
        if s.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) {
            for scalar in s.unicodeScalars {
                switch scalar {
                case "\"": text += "\\\""
                case "\\": text += "\\\\"
                case "\n": text += "\\n"
                case "\r": text += "\\r"
                case "\t": text += "\\t"
                default:
                    if scalar.value < 0x20 {
                        let hex = String(scalar.value, radix: 16)
                        text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                    } else {
                        text.unicodeScalars.append(scalar)
                    }
                }
            }
        } else {
            text += s
        }
        text += "\""
    }

    mutating func object(_ keys: [String], value: (inout GradeJSON, String) -> Void) {
        text += "{"
        for (i, key) in keys.enumerated() {
            if i > 0 { text += "," }
            string(key)
            text += ":"
            value(&self, key)
        }
        text += "}"
    }

    mutating func array<T>(_ items: [T], item: (inout GradeJSON, T) -> Void) {
        text += "["
        for (i, element) in items.enumerated() {
            if i > 0 { text += "," }
            item(&self, element)
        }
        text += "]"
    }
}
