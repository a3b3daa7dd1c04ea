//! Word lists and templates the generators draw from.
//!
//! Project domains carry the keywords the pipeline's facet rules look for (client/agency,
//! startup/revenue, research/thesis, open source/GitHub, …); task templates cover the eight work
//! modes with realistic titles. Placeholders in templates: `{s}` a subject of the project's domain,
//! `{n}` a small number, `{ver}` a version, `{major}` a major version, `{q}` a quarter, `{pr}` a pull
//! request number, `{inv}` an invoice number, `{person}` a first name, `{team}` a team,
//! `{client}` a client, `{product}` a product name, `{oss}` an open-source project, `{topic}` a
//! research topic, `{month}` a month, `{year}` a year, `{couple}` a couple, `{k}` thousands.

/// Sentences per core dimension, in column order: goals_momentum, harmony_integration,
/// integrity_ideals, meaning_identity, opportunity_freedom, people_bonds, power_resources,
/// reality_understanding, trust_safeguards.
pub(crate) const CORE_VALUES: [&[&str]; 9] = [
    &[
        "Ship something every week to keep momentum.",
        "Hit the milestone before the end of the quarter.",
        "Small wins daily; no zero days.",
    ],
    &[
        "Keep work and family time balanced.",
        "Fit the project around existing commitments without burning out.",
    ],
    &[
        "No shortcuts on quality or honesty with stakeholders.",
        "Only promise what we can deliver.",
    ],
    &[
        "This is the work I want to be known for.",
        "It matters because it helps people I care about.",
    ],
    &[
        "Creates options: more freedom to choose the next step.",
        "Opens the door to new clients and collaborations.",
    ],
    &[
        "Bring friends and family along.",
        "Build trust with the team through weekly check-ins.",
    ],
    &[
        "Stay within budget and protect cash flow.",
        "Use existing tools before buying new ones.",
    ],
    &[
        "Base decisions on data, not hunches.",
        "Test assumptions early with real users.",
    ],
    &[
        "Back up everything; keep a rollback plan.",
        "Protect user privacy at every step.",
    ],
];

/// Work modes, in the order of the mode-weight arrays.
pub(crate) const MODES: [&str; 8] = [
    "execute",
    "create",
    "refine",
    "research",
    "review",
    "coordinate",
    "admin",
    "plan",
];

/// Generic task templates per work mode (same order as [`MODES`]); `{s}` is a domain subject.
pub(crate) const GENERIC_TASKS: [&[&str]; 8] = [
    &[
        "Finish the {s}",
        "Set up the {s}",
        "Fix the issues with the {s}",
        "Ship the {s}",
        "Go through the {s} checklist",
        "Move the {s} to the new system",
        "Implement the changes to the {s}",
        "Get the {s} done",
    ],
    &[
        "Draft the {s}",
        "Write a first version of the {s}",
        "Design the new {s}",
        "Sketch ideas for the {s}",
        "Build a prototype of the {s}",
        "Make a template for the {s}",
    ],
    &[
        "Polish the {s}",
        "Revise the {s} after feedback",
        "Clean up the {s}",
        "Improve the {s}",
        "Edit the {s} for clarity",
        "Tighten up the {s}",
        "Rework the {s} based on notes",
    ],
    &[
        "Research options for the {s}",
        "Look into best practices for the {s}",
        "Compare three approaches to the {s}",
        "Investigate why the {s} keeps failing",
        "Read up on how others handle the {s}",
        "Find examples of a great {s}",
    ],
    &[
        "Review the {s}",
        "Give feedback on the {s}",
        "Check the {s} against the requirements",
        "Evaluate the {s} draft",
        "Audit the {s}",
        "Proofread the {s}",
    ],
    &[
        "Meet with {person} about the {s}",
        "Call {person} to discuss the {s}",
        "Weekly sync with {team} on the {s}",
        "Interview {n} users about the {s}",
        "Email {person} about the {s}",
        "Schedule a kickoff meeting for the {s}",
        "Standup with {team}",
    ],
    &[
        "Pay the invoice for the {s}",
        "File the receipts for the {s}",
        "Update the budget spreadsheet for the {s}",
        "Renew the subscription for the {s}",
        "Send the monthly status report on the {s}",
        "Archive old files from the {s}",
        "Submit the expense report for {month}",
    ],
    &[
        "Plan next steps for the {s}",
        "Outline milestones for the {s}",
        "Map out the timeline for the {s}",
        "Prioritize the backlog for the {s}",
        "Define goals for the {s}",
        "Plan Q{q} roadmap",
    ],
];

/// A project domain: names, descriptions, subjects, tags, phases and task templates.
pub(crate) struct Domain {
    /// Short key, stored in `projects.source_metadata.domain` of brain-dump projects.
    pub key: &'static str,
    /// Project (name, description) templates; descriptions carry the facet keywords.
    pub projects: &'static [(&'static str, &'static str)],
    /// Things the tasks of this domain are about (`{s}`).
    pub subjects: &'static [&'static str],
    /// Tag vocabulary.
    pub tags: &'static [&'static str],
    /// Phase names, in their natural order.
    pub phases: &'static [&'static str],
    /// Relative weight of each work mode ([`MODES`] order).
    pub mode_weights: [u32; 8],
    /// Domain-specific task templates per work mode ([`MODES`] order).
    pub tasks: [&'static [&'static str]; 8],
}

/// The eight domains projects are drawn from.
pub(crate) const DOMAINS: [Domain; 8] = [
    Domain {
        key: "software",
        projects: &[
            (
                "Mobile App v{major} Rewrite",
                "Rewrite of the {product} mobile app in React + TypeScript with offline sync.",
            ),
            (
                "Billing Service Migration",
                "Move billing off the legacy monolith into a dedicated service with zero downtime.",
            ),
            (
                "Internal Analytics Dashboard",
                "Dashboard for the ops team: signups, churn and latency in one place.",
            ),
            (
                "{product} iOS Launch",
                "Ship the {product} iOS app to the App Store; beta with 200 testers first.",
            ),
            (
                "API Platform Hardening",
                "Harden the public API: rate limits, auth scopes, better error messages.",
            ),
            (
                "Customer Portal Redesign",
                "New self-service portal so users can manage plans and invoices themselves.",
            ),
            (
                "Data Pipeline Modernization",
                "Replace the nightly cron scripts with a proper data pipeline.",
            ),
        ],
        subjects: &[
            "login flow",
            "billing service",
            "search API",
            "onboarding screens",
            "CI pipeline",
            "settings page",
            "notification system",
            "database schema",
        ],
        tags: &[
            "engineering",
            "backend",
            "frontend",
            "mobile",
            "infra",
            "q3",
            "tech-debt",
        ],
        phases: &["Discovery", "Design", "Build", "Beta", "Launch", "Iterate"],
        mode_weights: [34, 12, 14, 8, 12, 8, 4, 8],
        tasks: [
            &[
                "Deploy v{ver} to production",
                "Fix login redirect bug",
                "Set up CI pipeline for the mobile app",
                "Migrate user table to new schema",
                "Configure DNS records for the new domain",
                "Implement password reset endpoint",
                "Add dark mode toggle to settings",
                "Run the data backfill for {month}",
            ],
            &[
                "Design mockups for the {s}",
                "Write API docs for the {s}",
                "Prototype the new {s}",
            ],
            &[
                "Refactor the {s} module",
                "Optimize slow queries in the {s}",
                "Improve error handling in the {s}",
            ],
            &[
                "Evaluate Postgres vs. DynamoDB for the {s}",
                "Investigate memory leak in the {s}",
                "Spike: can we use WebSockets for the {s}?",
            ],
            &[
                "Review PR #{pr} for the {s}",
                "Code review of the {s} changes",
                "Security review of the {s}",
            ],
            &[
                "Daily standup with the dev team",
                "Sprint retro with {team}",
                "Pair with {person} on the {s}",
            ],
            &[
                "Renew domain and SSL certificate",
                "Update the AWS billing alerts",
                "Rotate API keys for the {s}",
            ],
            &[
                "Sprint planning for sprint {n}",
                "Plan Q{q} roadmap",
                "Break down the {s} epic into stories",
            ],
        ],
    },
    Domain {
        key: "writing",
        projects: &[
            (
                "Novel: The Lighthouse Keeper",
                "Finish the first draft of the novel, 80,000 words by June 2027.",
            ),
            (
                "Memoir First Draft",
                "Memoir about growing up between two countries; one chapter a month.",
            ),
            (
                "Weekly Newsletter",
                "A weekly newsletter about productivity and craft, 2,000 subscribers so far.",
            ),
            (
                "Technical Book on {topic}",
                "A practical book on {topic} for working engineers; 12 chapters.",
            ),
            (
                "Short Story Collection",
                "Short stories for a collection; submit three to magazines this year.",
            ),
            (
                "Personal Blog Relaunch",
                "Move the blog to a new platform and publish twice a month again.",
            ),
        ],
        subjects: &[
            "chapter 4",
            "introduction",
            "newsletter issue",
            "book proposal",
            "author bio",
            "epilogue",
            "cover copy",
        ],
        tags: &["writing", "book", "draft", "newsletter", "creative"],
        phases: &[
            "Outline",
            "First draft",
            "Revisions",
            "Editing",
            "Submission",
            "Promotion",
        ],
        mode_weights: [10, 34, 22, 8, 10, 6, 4, 6],
        tasks: [
            &[
                "Submit the manuscript to the publisher",
                "Publish the blog post",
                "Send issue #{n} of the newsletter",
            ],
            &[
                "Draft chapter {n} outline",
                "Write chapter {n}",
                "Write a blog post about {topic}",
                "Draft the book proposal",
            ],
            &[
                "Edit chapter {n}",
                "Rewrite the opening of chapter {n}",
                "Cut 2,000 words from chapter {n}",
            ],
            &[
                "Research historical details for chapter {n}",
                "Read three memoirs for structure ideas",
            ],
            &[
                "Read beta reader feedback on chapter {n}",
                "Review the copyeditor's changes",
            ],
            &[
                "Call my editor about the deadline",
                "Meet the writing group",
            ],
            &[
                "Send invoice #{inv} to the magazine",
                "Renew the newsletter platform plan",
            ],
            &[
                "Outline the plot of the second act",
                "Plan the launch schedule for the book",
            ],
        ],
    },
    Domain {
        key: "events",
        projects: &[
            (
                "{couple} Wedding",
                "Plan our wedding for about {n}0 guests on June 20, 2027. Budget ${k}k.",
            ),
            (
                "Company Offsite {year}",
                "Three-day company offsite for 40 people, venue near the coast.",
            ),
            (
                "Mom's 60th Birthday Party",
                "Surprise party with 200 guests; keep it secret until the day.",
            ),
            (
                "Tech Meetup Series",
                "Monthly meetup for local developers, 60 attendees per event.",
            ),
            (
                "Charity Gala {year}",
                "Fundraising gala for the food bank; goal $50k, 150 guests.",
            ),
            (
                "Family Reunion",
                "Reunion weekend for the whole family at the lake house in August 2027.",
            ),
        ],
        subjects: &[
            "venue",
            "guest list",
            "seating chart",
            "catering menu",
            "invitations",
            "photographer",
            "playlist",
            "welcome bags",
        ],
        tags: &["wedding", "event", "party", "family", "logistics"],
        phases: &[
            "Ideas",
            "Booking",
            "Invitations",
            "Final details",
            "Event week",
            "Wrap-up",
        ],
        mode_weights: [26, 10, 8, 10, 6, 22, 10, 8],
        tasks: [
            &[
                "Book the {s}",
                "Order the flowers",
                "Pick up the rings",
                "Book flights and hotel",
            ],
            &[
                "Design the invitations",
                "Write the wedding vows",
                "Make the slideshow",
            ],
            &[
                "Finalize the seating chart",
                "Adjust the menu for dietary needs",
            ],
            &[
                "Compare three caterers",
                "Research venues within an hour of the city",
            ],
            &[
                "Taste-test the catering menu",
                "Check the contract with the venue",
            ],
            &[
                "Meet with the florist",
                "Call the venue coordinator about {n}0 guests",
                "Send RSVP reminders to the family",
            ],
            &[
                "Pay the venue deposit",
                "Track RSVPs in the spreadsheet",
                "Pay the DJ invoice",
            ],
            &["Plan the ceremony timeline", "Plan the rehearsal dinner"],
        ],
    },
    Domain {
        key: "research",
        projects: &[
            (
                "PhD Thesis: {topic}",
                "Thesis research on {topic} for my PhD; includes a survey study and two papers.",
            ),
            (
                "Master's Thesis on {topic}",
                "Master's thesis at the university on {topic}; defense planned for spring.",
            ),
            (
                "Research Study: {topic}",
                "Academic study of {topic} with 120 participants.",
            ),
            (
                "Literature Review for {topic}",
                "Literature review on {topic} for the research group, due 2027-03-15.",
            ),
            (
                "Statistics Course Project",
                "Course project for the graduate statistics course: regression on open data.",
            ),
            (
                "Grant Proposal on {topic}",
                "Research grant proposal on {topic}; budget $250k over three years.",
            ),
        ],
        subjects: &[
            "literature review",
            "survey data",
            "methods section",
            "regression model",
            "conference poster",
            "ethics application",
            "results chapter",
        ],
        tags: &["research", "thesis", "academic", "phd", "data"],
        phases: &[
            "Proposal",
            "Literature review",
            "Data collection",
            "Analysis",
            "Writing",
            "Defense",
        ],
        mode_weights: [14, 16, 12, 26, 12, 8, 6, 6],
        tasks: [
            &[
                "Run the regression analysis",
                "Collect survey responses",
                "Clean the survey data",
            ],
            &[
                "Draft the methods section",
                "Write chapter {n} of the thesis",
                "Make the poster",
            ],
            &[
                "Revise the literature review after advisor feedback",
                "Polish the results figures",
            ],
            &[
                "Read {n} papers on {topic}",
                "Survey related work on {topic}",
                "Find datasets about {topic}",
            ],
            &[
                "Review the committee's comments",
                "Peer review for the journal",
            ],
            &[
                "Meet with my advisor",
                "Interview {n} participants for the study",
            ],
            &["Submit the IRB renewal", "Register for the conference"],
            &[
                "Plan the thesis timeline",
                "Plan the analysis for chapter {n}",
            ],
        ],
    },
    Domain {
        key: "client",
        projects: &[
            (
                "{client} Website Redesign",
                "Agency project for our client {client}: new website, CMS and analytics.",
            ),
            (
                "{client} Brand Refresh",
                "Brand refresh for the customer {client}; budget $80k, launch in March 2027.",
            ),
            (
                "{client} Q{q} Campaign",
                "Paid social campaign for client {client}; reporting every Friday.",
            ),
            (
                "SEO Retainer for {client}",
                "Monthly retainer for client {client}: SEO, content and reporting.",
            ),
            (
                "{client} App Build",
                "Build the customer app for {client}; contract signed, 12 weeks.",
            ),
        ],
        subjects: &[
            "homepage",
            "brand guidelines",
            "landing page",
            "campaign assets",
            "client proposal",
            "content calendar",
            "style guide",
        ],
        tags: &["client", "agency", "design", "marketing", "retainer"],
        phases: &[
            "Kickoff",
            "Discovery",
            "Design",
            "Production",
            "Handoff",
            "Support",
        ],
        mode_weights: [22, 16, 14, 6, 10, 16, 10, 6],
        tasks: [
            &[
                "Launch the client website",
                "Upload final assets to the client portal",
            ],
            &[
                "Design the homepage mockup for {client}",
                "Write copy for the landing page",
            ],
            &[
                "Apply client feedback to the {s}",
                "Polish the logo variations",
            ],
            &[
                "Audit competitor websites for {client}",
                "Research the target audience",
            ],
            &[
                "Review the brand guidelines draft",
                "QA the staging site before handoff",
            ],
            &[
                "Kickoff call with {client}",
                "Weekly status meeting with {client}",
            ],
            &[
                "Send invoice #{inv} to {client}",
                "Log billable hours for {month}",
            ],
            &[
                "Scope the next phase of the {client} project",
                "Plan the content calendar",
            ],
        ],
    },
    Domain {
        key: "startup",
        projects: &[
            (
                "{product} Seed Round",
                "Raise a $1.2M seed round for the {product} startup by June 2027.",
            ),
            (
                "{product} Go-to-Market",
                "Go-to-market plan for {product}: channels, sales playbook, first 100 customers.",
            ),
            (
                "SaaS Pricing Experiment",
                "Early-stage startup: test three pricing tiers to reach $10k MRR in revenue.",
            ),
            (
                "Revenue Ops Cleanup",
                "Clean up the sales pipeline and forecast revenue per quarter for the business.",
            ),
            (
                "{product} Launch on Product Hunt",
                "Launch day for the startup: aim for top 5 and 500 signups.",
            ),
            (
                "Sales Pipeline Q{q}",
                "Grow the sales pipeline to $300k; weekly business review.",
            ),
        ],
        subjects: &[
            "pricing page",
            "sales pipeline",
            "pitch deck",
            "investor update",
            "onboarding funnel",
            "referral program",
            "financial model",
        ],
        tags: &["startup", "revenue", "sales", "growth", "fundraising"],
        phases: &[
            "Validation",
            "MVP",
            "Launch",
            "Growth",
            "Fundraising",
            "Scale",
        ],
        mode_weights: [20, 12, 10, 12, 10, 14, 8, 14],
        tasks: [
            &[
                "Launch the pricing page",
                "Set up Stripe checkout",
                "Ship the onboarding email sequence",
            ],
            &[
                "Build the pitch deck",
                "Write the investor update",
                "Create the sales one-pager",
            ],
            &[
                "Tighten the sales email sequence",
                "Rework the financial model",
            ],
            &["Research competitor pricing", "Size the market for the {s}"],
            &[
                "Review the Q{q} revenue numbers",
                "Review the cap table with the lawyer",
            ],
            &[
                "Investor call with {person}",
                "Interview {n} customers about onboarding",
            ],
            &[
                "File the franchise tax",
                "Run payroll for {month}",
                "Renew the business insurance",
            ],
            &[
                "Plan Q{q} roadmap",
                "Set OKRs for Q{q}",
                "Plan the launch week",
            ],
        ],
    },
    Domain {
        key: "open_source",
        projects: &[
            (
                "{oss} v{major}.0 Release",
                "Next major release of the open source library on GitHub; breaking changes listed in the RFC.",
            ),
            (
                "{oss} Documentation Overhaul",
                "Rewrite the docs of the open-source project {oss}; examples for every API.",
            ),
            (
                "Maintain {oss} on GitHub",
                "OSS maintenance: triage issues, review PRs, keep CI green.",
            ),
            (
                "{oss} Plugin System",
                "Plugin API for the open-source {oss} so the community can extend it.",
            ),
            (
                "Open Source CLI Tool",
                "A small open-source CLI tool, MIT licensed, published on GitHub.",
            ),
        ],
        subjects: &[
            "README",
            "plugin API",
            "release notes",
            "issue tracker",
            "test suite",
            "docs site",
            "changelog",
        ],
        tags: &["open-source", "github", "oss", "rust", "community"],
        phases: &[
            "Triage",
            "Design RFC",
            "Implementation",
            "Release candidate",
            "Release",
            "Follow-up",
        ],
        mode_weights: [26, 10, 14, 8, 18, 8, 6, 10],
        tasks: [
            &[
                "Cut release v{ver}",
                "Fix CI failure on Windows",
                "Publish v{ver} to crates.io",
            ],
            &[
                "Write a contributing guide",
                "Create GitHub issue templates",
            ],
            &[
                "Improve error messages in the {s}",
                "Refactor the {s} for readability",
            ],
            &[
                "Investigate flaky test in the {s}",
                "Research how other projects version plugins",
            ],
            &[
                "Triage new GitHub issues",
                "Review PR #{pr} from a first-time contributor",
            ],
            &[
                "Community call with maintainers",
                "Reply to {person} on the discussion forum",
            ],
            &["Renew the project's domain", "Update the sponsors page"],
            &[
                "Plan the v{major}.0 milestone",
                "Write the roadmap for next year",
            ],
        ],
    },
    Domain {
        key: "personal",
        projects: &[
            (
                "Kitchen Renovation",
                "Home project: redo the kitchen, budget €2,500, two weekends.",
            ),
            (
                "Marathon Training",
                "Personal goal: run a marathon in under 4 hours by October 2027.",
            ),
            (
                "Home Gym Setup",
                "Fitness routine at home: rack, bench and weights in the garage.",
            ),
            (
                "Garden Makeover",
                "Raised beds, new lawn and a small herb garden before summer.",
            ),
            (
                "Learn Spanish",
                "Personal goal: B1 level in 12 months, 30 minutes a day.",
            ),
            (
                "Get Finances in Order",
                "Sort out personal finances: budget, savings, taxes.",
            ),
            (
                "Move to a New Apartment",
                "Move by the end of the month; 40 boxes and a piano.",
            ),
        ],
        subjects: &[
            "garage",
            "training plan",
            "meal prep",
            "bathroom",
            "garden",
            "budget",
            "moving boxes",
            "bike",
        ],
        tags: &["personal", "home", "fitness", "health", "family"],
        phases: &[
            "Prepare",
            "Start",
            "Build habits",
            "Push",
            "Maintain",
            "Celebrate",
        ],
        mode_weights: [34, 6, 8, 10, 6, 10, 16, 10],
        tasks: [
            &[
                "Paint the guest bedroom",
                "Install the new kitchen faucet",
                "Run {n} km",
                "Replace the bike chain",
            ],
            &["Make a meal plan for the week", "Build a raised garden bed"],
            &[
                "Declutter the garage",
                "Tune the training plan after the injury",
            ],
            &["Research home gym equipment", "Compare moving companies"],
            &["Review monthly spending", "Check the progress photos"],
            &[
                "Call the plumber about the leak",
                "Book a session with the trainer",
            ],
            &[
                "Renew car insurance",
                "Pay the electricity bill",
                "File taxes",
            ],
            &[
                "Plan the summer vacation",
                "Plan a 12-week marathon training schedule",
            ],
        ],
    },
];

/// First names.
pub(crate) const FIRST_NAMES: &[&str] = &[
    "Maya", "Liam", "Sofia", "Noah", "Aisha", "Mateo", "Hana", "Ethan", "Priya", "Lucas", "Chloe",
    "Omar", "Elena", "Kenji", "Zara", "Diego", "Nora", "Ravi", "Ingrid", "Tomás", "Amara", "Felix",
    "Leila", "Jonas", "Mei", "Samuel", "Yara", "Viktor", "Isla", "Kofi",
];

/// Last names.
pub(crate) const LAST_NAMES: &[&str] = &[
    "Chen",
    "Okafor",
    "García",
    "Müller",
    "Patel",
    "Nguyen",
    "Johansson",
    "Rossi",
    "Kim",
    "Dubois",
    "Haddad",
    "Silva",
    "Kowalski",
    "Tanaka",
    "O'Brien",
    "Mensah",
    "Novak",
    "Fischer",
    "Moreau",
    "Singh",
];

/// Email domains (reserved for examples).
pub(crate) const EMAIL_DOMAINS: &[&str] = &["example.com", "example.org", "example.net"];

/// IANA time zones for users.
pub(crate) const TIMEZONES: &[&str] = &[
    "UTC",
    "America/New_York",
    "America/Los_Angeles",
    "America/Chicago",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Paris",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Australia/Sydney",
    "America/Sao_Paulo",
    "Africa/Lagos",
];

/// Teams (`{team}`).
pub(crate) const TEAMS: &[&str] = &[
    "the dev team",
    "design",
    "marketing",
    "the board",
    "the product team",
    "support",
];

/// Clients (`{client}`).
pub(crate) const CLIENTS: &[&str] = &[
    "Acme Corp",
    "Northwind",
    "Globex",
    "Initech",
    "Umbrella Health",
    "Blue Harbor Coffee",
    "Stark Logistics",
    "Pinecone Dental",
];

/// Product names (`{product}`).
pub(crate) const PRODUCTS: &[&str] = &[
    "Tidepool", "Lumen", "Parcel", "Orbit", "Fernweh", "Kiln", "Quill", "Mosaic",
];

/// Open-source project names (`{oss}`).
pub(crate) const OSS: &[&str] = &[
    "fastcsv", "tinyhttp", "pgwatch", "yamlfmt", "termplot", "logfold",
];

/// Research topics (`{topic}`).
pub(crate) const TOPICS: &[&str] = &[
    "sleep and memory consolidation",
    "urban heat islands",
    "LLM evaluation methods",
    "microplastics in rivers",
    "remote work productivity",
    "soil carbon storage",
];

/// Couples (`{couple}`).
pub(crate) const COUPLES: &[&str] = &["Ana & Ben", "Priya & Sam", "Leo & Mia", "Kai & Noor"];

/// Months (`{month}`).
pub(crate) const MONTHS: &[&str] = &[
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Task description templates per work mode ([`MODES`] order); several carry values the property
/// parsers can read (amounts, counts, dates, durations, lists).
pub(crate) const MODE_DESCRIPTIONS: [&[&str]; 8] = [
    &[
        "Roll out after the smoke tests pass.",
        "Use the checklist from last time: backup, deploy, verify, announce.",
        "Should take about 2h 30m.",
        "Needs to be done before the {s} review.",
        "Quick one, should take 15 minutes.",
    ],
    &[
        "First rough version is fine; polish later.",
        "Aim for about 1,500 words.",
        "Start from the template in the shared drive.",
        "Stack: React + TypeScript.",
    ],
    &[
        "Incorporate the comments from {person}.",
        "Make it shorter and clearer.",
        "Second pass: fix tone, typos and formatting.",
    ],
    &[
        "Collect links and notes in the research doc.",
        "Compare at least three options; budget ${k}k.",
        "Summarize the findings in one page.",
    ],
    &[
        "Leave comments by Friday.",
        "Check against the brief and the acceptance criteria.",
        "Second pair of eyes before it ships.",
    ],
    &[
        "Agenda: status, blockers, next steps.",
        "30-minute call; send notes afterwards.",
        "About {n}0 people invited.",
        "Follow-up from last week's meeting with {person}.",
    ],
    &[
        "Budget: ${k}k. Keep receipts.",
        "Due June 20, 2027.",
        "Recurring paperwork; takes 20 minutes.",
        "Forward the confirmation to accounting.",
    ],
    &[
        "Decide priorities for the next quarter.",
        "Outline milestones and owners.",
        "Timebox to one hour.",
        "Target launch: June 2027.",
    ],
];

/// Task descriptions that fit any work mode.
pub(crate) const TASK_DESCRIPTIONS: &[&str] = &[
    "Originally from a brain dump on the train.",
    "Check with {team} first.",
    "Part of the {s} work; see the notes in the shared doc.",
    "Blocked on feedback from {person}; ping again on Monday.",
];

/// Task detail paragraphs.
pub(crate) const TASK_DETAILS: &[&str] = &[
    "Context: the {s} has been on the list for a while. Acceptance: everyone on {team} signs off.",
    "Notes from the call with {person}:\n- keep the scope small\n- revisit in {month}\n- budget ${k}k",
    "Links: see the shared drive folder. Open questions: who owns the {s} afterwards?",
    "Definition of done: tested, documented, announced in the channel.",
    "Risks: depends on the {s}; if that slips, this slips too.",
];

/// Task step lists.
pub(crate) const TASK_STEPS: &[&str] = &[
    "1. Gather what exists\n2. Draft the change\n3. Get feedback\n4. Finalize",
    "1. Back up\n2. Apply the change\n3. Verify\n4. Announce",
    "- [ ] Prepare\n- [ ] Do it\n- [ ] Follow up",
    "1. Book a time\n2. Send the agenda\n3. Take notes\n4. Send the summary",
];

/// Phase descriptions.
pub(crate) const PHASE_DESCRIPTIONS: &[&str] = &[
    "Get the basics in place and agree on scope.",
    "Most of the heavy lifting happens here.",
    "Tie up loose ends and get sign-off.",
    "Buffer for surprises.",
    "Focus on quality over speed.",
];

/// Executive summaries.
pub(crate) const EXECUTIVE_SUMMARIES: &[&str] = &[
    "On track; the main risk is the timeline.",
    "Behind schedule by two weeks after the scope change.",
    "Going well. Next big milestone is the launch.",
    "Paused until funding is confirmed.",
];

/// Values of `phases.scheduling_method`.
pub(crate) const SCHEDULING_METHODS: &[&str] =
    &["sequential", "parallel", "ai_suggested", "manual"];

/// Values of `phase_tasks.assignment_reason`.
pub(crate) const ASSIGNMENT_REASONS: &[&str] = &[
    "Fits the phase goal",
    "Depends on work finished in this phase",
    "Scheduled by date",
    "Moved here during replanning",
];

/// Values of `tasks.source`.
pub(crate) const TASK_SOURCES: &[&str] = &["manual", "brain_dump", "calendar", "api"];

/// `sync_error` messages of failed calendar syncs.
pub(crate) const SYNC_ERRORS: &[&str] = &[
    "Google API 403: insufficient permissions",
    "Google API 404: event not found",
    "Google API 429: rate limit exceeded",
    "token expired; re-authentication required",
];

/// Hex colors of Google calendars.
pub(crate) const HEX_COLORS: &[&str] = &[
    "#a4bdfc", "#7ae7bf", "#dbadff", "#ff887c", "#fbd75b", "#ffb878", "#46d6db", "#e1e1e1",
];
