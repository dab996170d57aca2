// swift-tools-version:6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "registry",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "registry", targets: ["registry"])
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/vapor/multipart-kit.git", from: "4.7.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        .systemLibrary(
            name: "CArgon2",
            pkgConfig: "libargon2",
            providers: [.apt(["libargon2-dev"])]
        ),
        // Pure rules: validation, policies, state machines. No I/O, no server frameworks.
        .target(
            name: "RegistryDomain",
            swiftSettings: swiftSettings
        ),
        // Password hashing, ID encryption and blind index, tokens.
        .target(
            name: "RegistrySecurity",
            dependencies: [
                "RegistryDomain", "CArgon2",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // PostgresNIO's statement call under its own name, for RegistryStorage's guard over it.
        .target(
            name: "RegistryStorageDriver",
            dependencies: [
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // PostgreSQL: embedded cluster, migrations, repositories.
        .target(
            name: "RegistryStorage",
            dependencies: [
                "RegistryDomain", "RegistrySecurity", "RegistryStorageDriver",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Use cases: configuration, policies, one transaction per use case, audit.
        .target(
            name: "RegistryServices",
            dependencies: [
                "RegistryDomain", "RegistrySecurity", "RegistryStorage",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        // JSON API and pages over the services.
        // Demo data (the small demo of `make run`) and the scale data set for benchmarks; linked by
        // the executable and the tests only, never by the service's own modules.
        .target(
            name: "RegistryDemo",
            dependencies: [
                "RegistryDomain", "RegistrySecurity", "RegistryStorage", "RegistryServices",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "RegistryHTTP",
            dependencies: [
                "RegistryDomain", "RegistrySecurity", "RegistryStorage", "RegistryServices",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "MultipartKit", package: "multipart-kit"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "registry",
            dependencies: [
                "RegistryHTTP", "RegistryServices", "RegistryStorage", "RegistrySecurity", "RegistryDomain", "RegistryDemo",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RegistryDomainTests",
            dependencies: ["RegistryDomain"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RegistryIntegrationTests",
            dependencies: [
                "RegistryHTTP", "RegistryServices", "RegistryStorage", "RegistrySecurity", "RegistryDomain", "RegistryDemo",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
