/// A QR code symbol (ISO/IEC 18004 Model 2), made from bytes: byte mode, error-correction level
/// M (about 15 % of the symbol can be lost), the smallest version 1–40 that holds the data, and
/// the mask (of the eight) with the lowest penalty under the standard's four rules.
///
/// Pure and deterministic: the same text always gives the same symbol. Used for the link a
/// worker shows an employer (her consent code filled into the check page), so a phone can open
/// it; the pages draw `modules` as SVG.
public struct QRCode: Sendable, Equatable {
    /// 1–40; the symbol is `17 + 4 × version` modules wide.
    public let version: Int
    /// The data mask pattern applied, 0–7.
    public let mask: Int
    /// Rows from top to bottom, modules from left to right; `true` is dark. No quiet zone.
    public let modules: [[Bool]]

    public var size: Int { modules.count }

    public enum EncodingError: Error, Equatable, Sendable {
        /// More bytes than version `maxVersion` holds at level M.
        case dataTooLong(bytes: Int, capacity: Int)
        case invalidVersionRange
        case invalidMask(Int)
    }

    public static let versions = 1...40

    /// Encodes the UTF-8 bytes of `text`. `mask` forces one pattern (for tests and comparisons);
    /// nil chooses the best.
    public static func encode(_ text: String, minVersion: Int = 1, maxVersion: Int = 40, mask: Int? = nil) throws -> QRCode {
        try encode(bytes: Array(text.utf8), minVersion: minVersion, maxVersion: maxVersion, mask: mask)
    }

    public static func encode(bytes: [UInt8], minVersion: Int = 1, maxVersion: Int = 40, mask: Int? = nil) throws -> QRCode {
        guard versions.contains(minVersion), versions.contains(maxVersion), minVersion <= maxVersion else {
            throw EncodingError.invalidVersionRange
        }
        if let mask, !(0...7).contains(mask) { throw EncodingError.invalidMask(mask) }
        guard let version = (minVersion...maxVersion).first(where: { byteCapacity(version: $0) >= bytes.count }) else {
            throw EncodingError.dataTooLong(bytes: bytes.count, capacity: byteCapacity(version: maxVersion))
        }
        let codewords = interleaved(dataCodewords(bytes, version: version), version: version)
        var symbol = Symbol(version: version)
        symbol.drawCodewords(codewords)
        let chosen: Int
        if let mask {
            chosen = mask
        } else {
            // The first of the lowest penalties wins a tie.
            let penalties = (0...7).map { symbol.masked($0).penalty }
            chosen = penalties.firstIndex(of: penalties.min()!)!
        }
        return QRCode(version: version, mask: chosen, modules: symbol.masked(chosen).modules)
    }

    /// The penalty of a finished symbol under the four rules of ISO/IEC 18004 §7.8.3 (runs of
    /// five or more, 2×2 blocks, finder-like 1:1:3:1:1 patterns with four light modules on a
    /// side — the outside of the symbol counting as light — and the balance of dark modules).
    public static func penalty(_ modules: [[Bool]]) -> Int {
        let size = modules.count
        var result = 0
        for line in 0..<size {
            for horizontal in [true, false] {
                var runColor = false
                var run = 0
                var history = FinderHistory(size: size)
                for i in 0..<size {
                    let dark = horizontal ? modules[line][i] : modules[i][line]
                    if dark == runColor {
                        run += 1
                        if run == 5 { result += 3 } else if run > 5 { result += 1 }
                    } else {
                        history.add(run)
                        if !runColor { result += history.finderLikePatterns * 40 }
                        runColor = dark
                        run = 1
                    }
                }
                result += history.terminate(runColor: runColor, run: run) * 40
            }
        }
        for y in 0..<(size - 1) {
            for x in 0..<(size - 1) {
                let c = modules[y][x]
                if c == modules[y][x + 1] && c == modules[y + 1][x] && c == modules[y + 1][x + 1] { result += 3 }
            }
        }
        let dark = modules.reduce(0) { $0 + $1.reduce(0) { $0 + ($1 ? 1 : 0) } }
        let total = size * size
        // The smallest k with (45 − 5k) % ≤ dark ≤ (55 + 5k) %; 10 points for each step of 5 %.
        let k = (abs(dark * 20 - total * 10) + total - 1) / total - 1
        result += k * 10
        return result
    }

    // MARK: Capacity (level M)

    /// Error-correction codewords per block at level M, by version (index 0 unused).
    static let eccCodewordsPerBlock = [
        0, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26,
        26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28,
    ]
    /// Error-correction blocks at level M, by version (index 0 unused).
    static let errorCorrectionBlocks = [
        0, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16,
        17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49,
    ]
    /// Level M in the format information (L = 01, M = 00, Q = 11, H = 10).
    static let levelBits = 0b00

    /// Modules left for data and error correction once the function patterns are drawn.
    static func rawDataModules(version v: Int) -> Int {
        var result = (16 * v + 128) * v + 64
        if v >= 2 {
            let alignments = v / 7 + 2
            result -= (25 * alignments - 10) * alignments - 55
            if v >= 7 { result -= 36 }
        }
        return result
    }

    static func dataCodewordCount(version v: Int) -> Int {
        rawDataModules(version: v) / 8 - eccCodewordsPerBlock[v] * errorCorrectionBlocks[v]
    }

    static func characterCountBits(version v: Int) -> Int { v <= 9 ? 8 : 16 }

    /// How many bytes fit in byte mode at level M.
    public static func byteCapacity(version v: Int) -> Int {
        (dataCodewordCount(version: v) * 8 - 4 - characterCountBits(version: v)) / 8
    }

    /// Centres of the alignment patterns along each axis (version 1 has none).
    static func alignmentPositions(version v: Int) -> [Int] {
        guard v > 1 else { return [] }
        let count = v / 7 + 2
        let size = 17 + 4 * v
        let step = (v * 8 + count * 3 + 5) / (count * 4 - 4) * 2
        var result = [Int](repeating: 6, count: count)
        var position = size - 7
        for i in stride(from: count - 1, through: 1, by: -1) {
            result[i] = position
            position -= step
        }
        return result
    }

    // MARK: Data

    /// Mode indicator, count, the bytes, terminator, padding to the version's data codewords.
    static func dataCodewords(_ bytes: [UInt8], version: Int) -> [UInt8] {
        var bits: [Bool] = []
        func append(_ value: Int, _ count: Int) {
            for i in stride(from: count - 1, through: 0, by: -1) { bits.append((value >> i) & 1 == 1) }
        }
        append(0b0100, 4)
        append(bytes.count, characterCountBits(version: version))
        for byte in bytes { append(Int(byte), 8) }
        let capacity = dataCodewordCount(version: version) * 8
        append(0, min(4, capacity - bits.count))
        append(0, (8 - bits.count % 8) % 8)
        var result = stride(from: 0, to: bits.count, by: 8).map { start in
            bits[start..<(start + 8)].reduce(UInt8(0)) { $0 << 1 | ($1 ? 1 : 0) }
        }
        var pad: UInt8 = 0xEC
        while result.count < capacity / 8 {
            result.append(pad)
            pad ^= 0xEC ^ 0x11
        }
        return result
    }

    /// Splits the data into the version's blocks, adds each block's Reed–Solomon codewords, and
    /// interleaves: the data codewords column by column, then the error-correction codewords.
    static func interleaved(_ data: [UInt8], version: Int) -> [UInt8] {
        let blockCount = errorCorrectionBlocks[version]
        let eccLength = eccCodewordsPerBlock[version]
        let raw = rawDataModules(version: version) / 8
        let shortBlocks = blockCount - raw % blockCount
        let shortLength = raw / blockCount - eccLength
        let divisor = ReedSolomon.generator(degree: eccLength)
        var dataBlocks: [[UInt8]] = []
        var eccBlocks: [[UInt8]] = []
        var start = 0
        for i in 0..<blockCount {
            let length = shortLength + (i < shortBlocks ? 0 : 1)
            let block = Array(data[start..<(start + length)])
            start += length
            dataBlocks.append(block)
            eccBlocks.append(ReedSolomon.remainder(block, divisor: divisor))
        }
        var result: [UInt8] = []
        result.reserveCapacity(raw)
        for i in 0..<(shortLength + 1) {
            for block in dataBlocks where i < block.count { result.append(block[i]) }
        }
        for i in 0..<eccLength {
            for block in eccBlocks { result.append(block[i]) }
        }
        return result
    }

    // MARK: Format and version information

    /// 15 bits: level and mask, BCH(15,5) protected, XOR 101010000010010.
    static func formatBits(mask: Int) -> Int {
        let data = levelBits << 3 | mask
        var remainder = data
        for _ in 0..<10 { remainder = (remainder << 1) ^ ((remainder >> 9) * 0x537) }
        return (data << 10 | remainder) ^ 0x5412
    }

    /// 18 bits for versions 7 and up: the version, BCH(18,6) protected.
    static func versionBits(version: Int) -> Int {
        var remainder = version
        for _ in 0..<12 { remainder = (remainder << 1) ^ ((remainder >> 11) * 0x1F25) }
        return version << 12 | remainder
    }

    /// Whether the module at row `y`, column `x` is dark under data mask `mask`.
    static func maskFlips(_ mask: Int, x: Int, y: Int) -> Bool {
        switch mask {
        case 0: (x + y) % 2 == 0
        case 1: y % 2 == 0
        case 2: x % 3 == 0
        case 3: (x + y) % 3 == 0
        case 4: (x / 3 + y / 2) % 2 == 0
        case 5: x * y % 2 + x * y % 3 == 0
        case 6: (x * y % 2 + x * y % 3) % 2 == 0
        default: ((x + y) % 2 + x * y % 3) % 2 == 0
        }
    }

    // MARK: The symbol being built

    struct Symbol {
        let version: Int
        let size: Int
        var modules: [[Bool]]
        /// Function patterns (finders, separators, timing, alignment, format and version
        /// information, the dark module): never data, never masked.
        var reserved: [[Bool]]

        init(version: Int) {
            self.version = version
            size = 17 + 4 * version
            modules = Array(repeating: Array(repeating: false, count: size), count: size)
            reserved = modules
            for i in 0..<size {
                set(x: 6, y: i, i % 2 == 0)
                set(x: i, y: 6, i % 2 == 0)
            }
            for (cx, cy) in [(3, 3), (size - 4, 3), (3, size - 4)] {
                for dy in -4...4 {
                    for dx in -4...4 {
                        let x = cx + dx
                        let y = cy + dy
                        guard (0..<size).contains(x), (0..<size).contains(y) else { continue }
                        let distance = max(abs(dx), abs(dy))
                        set(x: x, y: y, distance != 2 && distance != 4)
                    }
                }
            }
            let positions = QRCode.alignmentPositions(version: version)
            let last = positions.count - 1
            for (i, cx) in positions.enumerated() {
                for (j, cy) in positions.enumerated() {
                    // Not where a finder pattern is.
                    if (i == 0 && j == 0) || (i == 0 && j == last) || (i == last && j == 0) { continue }
                    for dy in -2...2 {
                        for dx in -2...2 { set(x: cx + dx, y: cy + dy, max(abs(dx), abs(dy)) != 1) }
                    }
                }
            }
            drawFormat(mask: 0)  // reserves the format areas; redrawn for the chosen mask
            if version >= 7 {
                let bits = QRCode.versionBits(version: version)
                for i in 0..<18 {
                    let dark = (bits >> i) & 1 == 1
                    let a = size - 11 + i % 3
                    let b = i / 3
                    set(x: a, y: b, dark)
                    set(x: b, y: a, dark)
                }
            }
        }

        mutating func set(x: Int, y: Int, _ dark: Bool) {
            modules[y][x] = dark
            reserved[y][x] = true
        }

        mutating func drawFormat(mask: Int) {
            let bits = QRCode.formatBits(mask: mask)
            func bit(_ i: Int) -> Bool { (bits >> i) & 1 == 1 }
            // Around the top-left finder.
            for i in 0...5 { set(x: 8, y: i, bit(i)) }
            set(x: 8, y: 7, bit(6))
            set(x: 8, y: 8, bit(7))
            set(x: 7, y: 8, bit(8))
            for i in 9..<15 { set(x: 14 - i, y: 8, bit(i)) }
            // The copy beside the other two finders, and the dark module.
            for i in 0..<8 { set(x: size - 1 - i, y: 8, bit(i)) }
            for i in 8..<15 { set(x: 8, y: size - 15 + i, bit(i)) }
            set(x: 8, y: size - 8, true)
        }

        /// Places the codewords' bits in the two-module-wide columns, right to left, zigzagging
        /// up and down, skipping the vertical timing column and every reserved module.
        mutating func drawCodewords(_ codewords: [UInt8]) {
            let totalBits = codewords.count * 8
            var i = 0
            var right = size - 1
            while right >= 1 {
                if right == 6 { right = 5 }
                let upward = (right + 1) & 2 == 0
                for step in 0..<size {
                    let y = upward ? size - 1 - step : step
                    for x in [right, right - 1] where !reserved[y][x] && i < totalBits {
                        modules[y][x] = (codewords[i >> 3] >> (7 - (i & 7))) & 1 == 1
                        i += 1
                    }
                }
                right -= 2
            }
        }

        /// This symbol with data mask `mask` applied and its format information drawn.
        func masked(_ mask: Int) -> (modules: [[Bool]], penalty: Int) {
            var copy = self
            for y in 0..<size {
                for x in 0..<size where !reserved[y][x] && QRCode.maskFlips(mask, x: x, y: y) {
                    copy.modules[y][x].toggle()
                }
            }
            copy.drawFormat(mask: mask)
            return (copy.modules, QRCode.penalty(copy.modules))
        }
    }

    /// The last seven run lengths of one row or column, for rule 3 (finder-like patterns).
    struct FinderHistory {
        let size: Int
        var runs = [Int](repeating: 0, count: 7)

        init(size: Int) { self.size = size }

        mutating func add(_ length: Int) {
            // The light area before the first run includes the outside of the symbol.
            let length = runs[0] == 0 ? length + size : length
            runs.removeLast()
            runs.insert(length, at: 0)
        }

        /// Dark–light–dark×3–light–dark at 1:1:3:1:1 with four light modules before or after.
        var finderLikePatterns: Int {
            let n = runs[1]
            let core = n > 0 && runs[2] == n && runs[3] == n * 3 && runs[4] == n && runs[5] == n
            return (core && runs[0] >= n * 4 && runs[6] >= n ? 1 : 0) + (core && runs[6] >= n * 4 && runs[0] >= n ? 1 : 0)
        }

        /// Ends the line (the outside counting as light) and counts the patterns it closes.
        mutating func terminate(runColor: Bool, run: Int) -> Int {
            var run = run
            if runColor {
                add(run)
                run = 0
            }
            add(run + size)
            return finderLikePatterns
        }
    }
}

/// Reed–Solomon error correction over GF(2⁸) with the QR polynomial x⁸ + x⁴ + x³ + x² + 1.
enum ReedSolomon {
    static func multiply(_ x: UInt8, _ y: UInt8) -> UInt8 {
        var z = 0
        for i in stride(from: 7, through: 0, by: -1) {
            z = (z << 1) ^ ((z >> 7) * 0x11D)
            z ^= Int((y >> UInt8(i)) & 1) * Int(x)
        }
        return UInt8(z)
    }

    /// The coefficients (highest power first, the leading 1 left out) of
    /// (x − α⁰)(x − α¹)…(x − α^(degree−1)).
    static func generator(degree: Int) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: degree)
        result[degree - 1] = 1
        var root: UInt8 = 1
        for _ in 0..<degree {
            for j in 0..<degree {
                result[j] = multiply(result[j], root)
                if j + 1 < degree { result[j] ^= result[j + 1] }
            }
            root = multiply(root, 0x02)
        }
        return result
    }

    /// The remainder of data·x^degree divided by the generator: the error-correction codewords.
    static func remainder(_ data: [UInt8], divisor: [UInt8]) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: divisor.count)
        for byte in data {
            let factor = byte ^ result.removeFirst()
            result.append(0)
            for i in result.indices { result[i] ^= multiply(divisor[i], factor) }
        }
        return result
    }
}
