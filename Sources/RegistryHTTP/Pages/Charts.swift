import Foundation

/// One SVG element: built in Swift, written out by the `_svg` partial, so every name, attribute
/// value and text goes through the templates' HTML escaping like any other value on a page (no
/// unescaped output anywhere). Colours are presentation attributes (`fill`, `stroke`) and CSS
/// classes: no inline `style`, which the Content-Security-Policy refuses.
struct SVGNode: Equatable {
    var name: String
    var attributes: [(String, String)]
    var text: String
    var children: [SVGNode]

    init(_ name: String, _ attributes: [(String, String)] = [], text: String = "", children: [SVGNode] = []) {
        self.name = name
        self.attributes = attributes
        self.text = text
        self.children = children
    }

    static func == (a: SVGNode, b: SVGNode) -> Bool {
        a.name == b.name && a.text == b.text && a.children == b.children
            && a.attributes.map { $0.0 + "=" + $0.1 } == b.attributes.map { $0.0 + "=" + $0.1 }
    }

    /// The value the `_svg` partial renders (every key present, so nothing falls through to
    /// an enclosing context).
    var view: [String: Any] {
        ["name": name, "attrs": attributes.map { ["name": $0.0, "value": $0.1] }, "text": text, "children": children.map(\.view)]
    }

    func attribute(_ name: String) -> String? { attributes.first { $0.0 == name }?.1 }

    /// Every node of the tree, depth first.
    var all: [SVGNode] { [self] + children.flatMap(\.all) }
}

/// Small, pure chart builders: numbers in, an accessible SVG tree out (`role="img"`, a `<title>`
/// and a `<desc>` that says every number in words, values written next to the bars, a "no data"
/// text when there is nothing to show).
enum Charts {
    struct Bar {
        var label: String
        var value: Int
        /// A fill with at least 3:1 contrast on white; nil: the first colour of the palette.
        var fill: String? = nil
    }

    struct Series {
        var name: String
        var values: [Int]
    }

    /// Fills with at least 3:1 contrast against the white page (WCAG non-text contrast).
    static let palette = ["#0b5394", "#1e6b2f", "#a4161a", "#8a6100", "#5b3f8c", "#4a5360", "#00695c", "#ad1457"]

    static func number(_ value: Double) -> String {
        let rounded = (value * 10).rounded() / 10
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(format: "%.1f", rounded)
    }

    static func frame(id: String, title: String, desc: String, width: Int, height: Int, _ body: [SVGNode]) -> SVGNode {
        SVGNode(
            "svg",
            [
                ("xmlns", "http://www.w3.org/2000/svg"), ("viewBox", "0 0 \(width) \(height)"), ("width", "100%"),
                ("class", "chart"), ("role", "img"), ("aria-labelledby", "\(id)-title \(id)-desc"), ("id", id),
            ],
            children: [SVGNode("title", [("id", "\(id)-title")], text: title), SVGNode("desc", [("id", "\(id)-desc")], text: desc)] + body
        )
    }

    static func empty(id: String, title: String, noData: String, width: Int) -> SVGNode {
        frame(
            id: id,
            title: title,
            desc: noData,
            width: width,
            height: 40,
            [
                SVGNode(
                    "text",
                    [("x", "\(width / 2)"), ("y", "25"), ("text-anchor", "middle"), ("class", "chart-empty"), ("fill", "#4a5360")],
                    text: noData
                )
            ]
        )
    }

    static let barWidth = 360, labelWidth = 130, rowHeight = 26, barThickness = 18

    /// Horizontal bars, one row each: the label on the left, the bar, its value after it. Bar
    /// lengths are proportional to the values (the longest fills the track).
    static func bars(id: String, title: String, bars: [Bar], noData: String, list: ([String]) -> String) -> SVGNode {
        let total = bars.reduce(0) { $0 + max($1.value, 0) }
        guard total > 0 else { return empty(id: id, title: title, noData: noData, width: barWidth) }
        let maximum = bars.map(\.value).max() ?? 1
        let track = Double(barWidth - labelWidth - 40)
        var body: [SVGNode] = []
        for (i, bar) in bars.enumerated() {
            let y = 4 + i * rowHeight
            let length = Double(max(bar.value, 0)) / Double(maximum) * track
            let words = "\(bar.label): \(bar.value)"
            body.append(
                SVGNode(
                    "g",
                    [("class", "chart-row")],
                    children: [
                        SVGNode(
                            "text",
                            [("x", "\(labelWidth - 6)"), ("y", "\(y + 13)"), ("text-anchor", "end"), ("class", "chart-label"), ("fill", "#1b1f24")],
                            text: bar.label
                        ),
                        SVGNode(
                            "rect",
                            [
                                ("x", "\(labelWidth)"), ("y", "\(y)"), ("width", number(length)), ("height", "\(barThickness)"),
                                ("fill", bar.fill ?? palette[0]), ("class", "chart-bar"),
                            ],
                            children: [SVGNode("title", text: words)]
                        ),
                        SVGNode(
                            "text",
                            [("x", number(Double(labelWidth) + length + 5)), ("y", "\(y + 13)"), ("class", "chart-value"), ("fill", "#1b1f24")],
                            text: String(bar.value)
                        ),
                    ]
                )
            )
        }
        return frame(
            id: id,
            title: title,
            desc: list(bars.map { "\($0.label) \($0.value)" }),
            width: barWidth,
            height: 8 + bars.count * rowHeight,
            body
        )
    }

    static let columnHeight = 150, columnTop = 16, columnBottom = 34, columnLeft = 8

    /// Vertical columns, one per category, stacked by series (one colour each, with a legend
    /// below); each column's total is written above it. Heights are proportional to the values.
    static func columns(
        id: String,
        title: String,
        categories: [String],
        series: [Series],
        noData: String,
        list: ([String]) -> String
    ) -> SVGNode {
        let totals = categories.indices.map { i in series.reduce(0) { $0 + max($1.values.indices.contains(i) ? $1.values[i] : 0, 0) } }
        guard !categories.isEmpty, (totals.max() ?? 0) > 0 else { return empty(id: id, title: title, noData: noData, width: barWidth) }
        let maximum = Double(totals.max() ?? 1)
        let plot = Double(columnHeight)
        let slot = Double(barWidth - 2 * columnLeft) / Double(categories.count)
        let baseline = Double(columnTop) + plot
        var body: [SVGNode] = [
            SVGNode(
                "line",
                [
                    ("x1", "\(columnLeft)"), ("x2", "\(barWidth - columnLeft)"), ("y1", number(baseline)), ("y2", number(baseline)),
                    ("stroke", "#4a5360"), ("stroke-width", "1"),
                ]
            )
        ]
        for (i, category) in categories.enumerated() {
            let x = Double(columnLeft) + Double(i) * slot + slot * 0.15
            var top = baseline
            var segments: [SVGNode] = []
            for (s, one) in series.enumerated() {
                let value = one.values.indices.contains(i) ? max(one.values[i], 0) : 0
                guard value > 0 else { continue }
                let height = Double(value) / maximum * plot
                top -= height
                segments.append(
                    SVGNode(
                        "rect",
                        [
                            ("x", number(x)), ("y", number(top)), ("width", number(slot * 0.7)), ("height", number(height)),
                            ("fill", palette[s % palette.count]), ("class", "chart-bar"),
                        ],
                        children: [SVGNode("title", text: "\(category) · \(one.name): \(value)")]
                    )
                )
            }
            var column = SVGNode("g", [("class", "chart-column")], children: segments)
            if totals[i] > 0 {
                column.children.append(
                    SVGNode(
                        "text",
                        [
                            ("x", number(x + slot * 0.35)), ("y", number(top - 3)), ("text-anchor", "middle"),
                            ("class", "chart-value"), ("fill", "#1b1f24"),
                        ],
                        text: String(totals[i])
                    )
                )
            }
            column.children.append(
                SVGNode(
                    "text",
                    [
                        ("x", number(x + slot * 0.35)), ("y", number(baseline + 13)), ("text-anchor", "middle"),
                        ("class", "chart-tick"), ("fill", "#1b1f24"),
                    ],
                    text: category
                )
            )
            body.append(column)
        }
        var legendY = Int(baseline) + 22
        for (s, one) in series.enumerated() {
            body.append(
                SVGNode(
                    "g",
                    [("class", "chart-legend")],
                    children: [
                        SVGNode(
                            "rect",
                            [("x", "\(columnLeft)"), ("y", "\(legendY)"), ("width", "12"), ("height", "12"), ("fill", palette[s % palette.count])]
                        ),
                        SVGNode(
                            "text",
                            [("x", "\(columnLeft + 18)"), ("y", "\(legendY + 11)"), ("class", "chart-label"), ("fill", "#1b1f24")],
                            text: "\(one.name) (\(one.values.reduce(0, +)))"
                        ),
                    ]
                )
            )
            legendY += 18
        }
        let words = categories.indices.compactMap { i -> String? in
            let parts = series.compactMap { s -> String? in
                let v = s.values.indices.contains(i) ? s.values[i] : 0
                return v > 0 ? "\(s.name) \(v)" : nil
            }
            return parts.isEmpty ? nil : "\(categories[i]): " + list(parts)
        }
        return frame(id: id, title: title, desc: list(words), width: barWidth, height: legendY + 4, body)
    }

    struct Point {
        var at: Date
        var value: Double
        var label: String
    }

    static let lineHeight = 120

    /// A step line of a value over time (it holds until the next change, and until `now`), one
    /// dot per change with its label. One point: a dot and a level line; none: "no data".
    static func steps(
        id: String,
        title: String,
        points: [Point],
        now: Date,
        range: ClosedRange<Double>,
        noData: String,
        dateText: (Date) -> String,
        list: ([String]) -> String
    ) -> SVGNode {
        guard !points.isEmpty else { return empty(id: id, title: title, noData: noData, width: barWidth) }
        let points = points.sorted { $0.at < $1.at }
        let low = min(range.lowerBound, points.map(\.value).min()!)
        let high = max(range.upperBound, points.map(\.value).max()!)
        let left = 30.0
        let right = Double(barWidth) - 12
        let top = 14.0
        let bottom = Double(lineHeight) - 22
        let start = points.first!.at
        let end = max(now, points.last!.at)
        let span = end.timeIntervalSince(start)
        func x(_ i: Int) -> Double {
            if points.count == 1 { return left }
            if span <= 0 { return left + Double(i) / Double(points.count - 1) * (right - left - 40) }
            return left + points[i].at.timeIntervalSince(start) / span * (right - left)
        }
        func y(_ v: Double) -> Double { bottom - (v - low) / max(high - low, 1) * (bottom - top) }
        var path = "M \(number(x(0))) \(number(y(points[0].value)))"
        for i in points.indices.dropFirst() {
            path += " H \(number(x(i))) V \(number(y(points[i].value)))"
        }
        path += " H \(number(right))"
        var body: [SVGNode] = []
        for v in [low, high] {
            body.append(
                SVGNode(
                    "line",
                    [
                        ("x1", number(left)), ("x2", number(right)), ("y1", number(y(v))), ("y2", number(y(v))),
                        ("stroke", "#c9ced6"), ("stroke-width", "1"),
                    ]
                )
            )
            body.append(
                SVGNode(
                    "text",
                    [
                        ("x", number(left - 4)), ("y", number(y(v) + 4)), ("text-anchor", "end"), ("class", "chart-tick"),
                        ("fill", "#1b1f24"),
                    ],
                    text: number(v)
                )
            )
        }
        body.append(SVGNode("path", [("d", path), ("fill", "none"), ("stroke", palette[0]), ("stroke-width", "2"), ("class", "chart-line")]))
        for (i, p) in points.enumerated() {
            body.append(
                SVGNode(
                    "g",
                    [("class", "chart-point")],
                    children: [
                        SVGNode(
                            "circle",
                            [("cx", number(x(i))), ("cy", number(y(p.value))), ("r", "4"), ("fill", palette[0])],
                            children: [SVGNode("title", text: "\(dateText(p.at)): \(p.label) \(number(p.value))")]
                        ),
                        SVGNode(
                            "text",
                            [("x", number(x(i) + 4)), ("y", number(y(p.value) - 7)), ("class", "chart-value"), ("fill", "#1b1f24")],
                            text: p.label
                        ),
                    ]
                )
            )
        }
        body.append(
            SVGNode(
                "text",
                [("x", number(left)), ("y", number(bottom + 16)), ("class", "chart-tick"), ("fill", "#1b1f24")],
                text: dateText(start)
            )
        )
        if points.count > 1 || end > start {
            body.append(
                SVGNode(
                    "text",
                    [
                        ("x", number(right)), ("y", number(bottom + 16)), ("text-anchor", "end"), ("class", "chart-tick"),
                        ("fill", "#1b1f24"),
                    ],
                    text: dateText(end)
                )
            )
        }
        return frame(
            id: id,
            title: title,
            desc: list(points.map { "\(dateText($0.at)) \($0.label) \(number($0.value))" }),
            width: barWidth,
            height: lineHeight,
            body
        )
    }
}
