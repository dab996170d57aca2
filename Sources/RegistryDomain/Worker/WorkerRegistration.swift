/// A request to open a worker's file, validated. The ID number is checked against GB 11643,
/// the stated sex against the ID's sex digit, the age against the custody policy.
public struct WorkerRegistration: Sendable, Equatable {
    public let nationalID: NationalID
    public let fullName: String
    public let sex: NationalID.Sex
    public let phone: String?
    public let homeRegion: String
    public let categories: [ServiceCategory]

    public struct Input: Sendable, Codable, Equatable {
        public var idNumber: String
        public var fullName: String
        public var sex: String
        public var phone: String?
        public var homeRegion: String
        public var serviceCategories: [String]

        public init(idNumber: String, fullName: String, sex: String, phone: String?, homeRegion: String, serviceCategories: [String]) {
            self.idNumber = idNumber
            self.fullName = fullName
            self.sex = sex
            self.phone = phone
            self.homeRegion = homeRegion
            self.serviceCategories = serviceCategories
        }

        enum CodingKeys: String, CodingKey {
            case sex, phone
            case idNumber = "id_number"
            case fullName = "full_name"
            case homeRegion = "home_region"
            case serviceCategories = "service_categories"
        }
    }

    public init(_ input: Input, today: CivilDate, ages: ClosedRange<Int>, sectors: SectorPolicy) throws(RegistryError) {
        let id = try NationalID(input.idNumber, today: today)
        let name = input.fullName.trimmingWhitespace()
        guard !name.hasInvisibleCharacters else {
            throw .invalid("full_name", "The name contains control, bidirectional or invisible characters.", code: "invalid_characters")
        }
        guard (1...100).contains(name.count), !name.contains(where: { $0.isNewline || $0 == "<" || $0 == ">" }) else {
            throw .invalid("full_name", "Give the full name as on the ID card (1 to 100 characters).")
        }
        let sexText = input.sex.trimmingWhitespace().uppercased()
        let sex: NationalID.Sex
        switch sexText {
        case "F", "FEMALE", "女": sex = .female
        case "M", "MALE", "男": sex = .male
        default: throw .invalid("sex", "Sex is F (女) or M (男).")
        }
        guard sex == id.sex else {
            throw .invalid("sex", "The stated sex does not match the ID number.", code: "sex_mismatch")
        }
        let age = id.birthDate.years(until: today)
        guard ages.contains(age) else {
            throw .invalid(
                "id_number",
                "By the ID number she is \(age); workers are registered from \(ages.lowerBound) to \(ages.upperBound).",
                code: "implausible_age"
            )
        }
        var phone: String?
        if let raw = input.phone?.trimmingWhitespace(), !raw.isEmpty {
            guard let normalized = Contact.normalizedPhone(raw) else { throw .invalid("phone", "Enter a valid phone number.") }
            phone = normalized
        }
        let region = input.homeRegion.trimmingWhitespace()
        guard region.count == 6, region.allSatisfy({ $0.isASCII && $0.isNumber }),
            let province = Int(region.prefix(2)), (11...82).contains(province)
        else {
            throw .invalid("home_region", "The home region is a 6-digit administrative division code, e.g. 320102.")
        }
        self.nationalID = id
        self.fullName = name
        self.sex = sex
        self.phone = phone
        self.homeRegion = region
        self.categories = try sectors.parseCategories(input.serviceCategories)
    }
}
