//! The generator of normal (well-formed) synthetic data.
//!
//! Users are generated one after the other, each followed by its projects; each project carries
//! its phases, tasks, phase links, calendar and events. The whole stream is drawn from one seeded
//! RNG in a fixed order, so the same options always give the same rows.
//!
//! Invariants of normal data (the edge cases of [`crate::edge`] break them on purpose): every
//! `parent_task_id` and dependency points at another task of the same project, parent chains are
//! acyclic (a parent is always an earlier task), every `phase_tasks` row links a task to a phase
//! of its own project, phase ranges are not inverted, every event has an `event_start`.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::SeedOptions;
use crate::insert::{
    Buffers, CalendarRow, EventRow, PhaseRow, PhaseTaskRow, ProjectRow, TaskRow, UserRow,
};
use crate::rng::SeedRng;
use crate::vocab::{self, DOMAINS, Domain};

/// Minimum size of the "big" projects of the long tail.
pub(crate) const BIG_PROJECT_TASKS: u64 = 200;

const PROJECT_STATUSES: [&str; 4] = ["active", "paused", "completed", "archived"];
const PROJECT_STATUS_WEIGHTS: [u32; 4] = [62, 14, 14, 10];
const PRIORITIES: [&str; 4] = ["low", "medium", "high", "urgent"];
const PRIORITY_WEIGHTS: [u32; 4] = [25, 40, 27, 8];
const TASK_STATUSES: [&str; 4] = ["backlog", "in_progress", "blocked", "done"];
const RECURRENCE_PATTERNS: [&str; 7] = [
    "daily",
    "weekdays",
    "weekly",
    "biweekly",
    "monthly",
    "quarterly",
    "yearly",
];
const DURATIONS: [i32; 8] = [15, 30, 45, 60, 90, 120, 180, 240];
const SYNC_STATUSES: [&str; 4] = ["synced", "pending", "failed", "cancelled"];
const SYNC_STATUS_WEIGHTS: [u32; 4] = [72, 10, 6, 12];
const RESPONSE_STATUSES: [&str; 4] = ["accepted", "needsAction", "declined", "tentative"];
/// Alphabet of Google event ids (base32hex, lowercase).
pub(crate) const GCAL_ID_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuv0123456789";
const EID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// The owner of the projects being generated.
#[derive(Clone)]
pub(crate) struct UserCtx {
    pub id: Uuid,
    pub email: String,
    pub name: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Per-project choices that keep names, descriptions and task titles consistent.
pub(crate) struct ProjectCtx {
    pub domain: &'static Domain,
    pub client: &'static str,
    pub product: &'static str,
    pub oss: &'static str,
    pub topic: &'static str,
    pub couple: &'static str,
    pub major: i64,
}

impl ProjectCtx {
    pub(crate) fn new(rng: &mut SeedRng, domain: &'static Domain) -> Self {
        Self {
            domain,
            client: rng.pick(vocab::CLIENTS),
            product: rng.pick(vocab::PRODUCTS),
            oss: rng.pick(vocab::OSS),
            topic: rng.pick(vocab::TOPICS),
            couple: rng.pick(vocab::COUPLES),
            major: rng.int(1, 5),
        }
    }

    /// Expand a random template of `templates`.
    pub(crate) fn fill_pick(&self, rng: &mut SeedRng, templates: &[&str]) -> String {
        let template = rng.pick(templates);
        self.fill(rng, template)
    }

    /// Expand the `{…}` placeholders of `template` (see [`crate::vocab`]).
    pub(crate) fn fill(&self, rng: &mut SeedRng, template: &str) -> String {
        let mut out = String::with_capacity(template.len() + 16);
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let Some(close) = rest[open..].find('}') else {
                break;
            };
            let key = &rest[open + 1..open + close];
            match key {
                "s" => out.push_str(rng.pick(self.domain.subjects)),
                "n" => out.push_str(&rng.int(2, 12).to_string()),
                "ver" => out.push_str(&format!("{}.{}", self.major, rng.int(0, 9))),
                "major" => out.push_str(&self.major.to_string()),
                "q" => out.push_str(&rng.int(1, 4).to_string()),
                "pr" => out.push_str(&rng.int(100, 2400).to_string()),
                "inv" => out.push_str(&rng.int(1001, 1999).to_string()),
                "k" => out.push_str(&rng.int(2, 120).to_string()),
                "year" => out.push_str(&rng.int(2026, 2027).to_string()),
                "person" => out.push_str(rng.pick(vocab::FIRST_NAMES)),
                "team" => out.push_str(rng.pick(vocab::TEAMS)),
                "month" => out.push_str(rng.pick(vocab::MONTHS)),
                "client" => out.push_str(self.client),
                "product" => out.push_str(self.product),
                "oss" => out.push_str(self.oss),
                "topic" => out.push_str(self.topic),
                "couple" => out.push_str(self.couple),
                other => {
                    out.push('{');
                    out.push_str(other);
                    out.push('}');
                }
            }
            rest = &rest[open + close + 1..];
        }
        out.push_str(rest);
        out
    }
}

/// Streams users and projects for [`SeedOptions`].
pub(crate) struct NormalGenerator {
    users: u32,
    projects_per_user: u32,
    /// Number of tasks of every normal project, in generation order.
    sizes: Vec<u32>,
    user_idx: u32,
    project_in_user: u32,
    project_idx: usize,
    user: Option<UserCtx>,
}

impl NormalGenerator {
    pub(crate) fn new(rng: &mut SeedRng, opts: &SeedOptions) -> Self {
        let projects = opts.total_projects() as usize;
        Self {
            users: opts.users,
            projects_per_user: opts.projects_per_user,
            sizes: task_counts(rng, projects, opts.tasks_per_project),
            user_idx: 0,
            project_in_user: 0,
            project_idx: 0,
            user: None,
        }
    }

    /// Generate the next user and/or project into `buf`; `false` once everything was generated.
    pub(crate) fn next_project(&mut self, rng: &mut SeedRng, buf: &mut Buffers) -> bool {
        if self.user_idx >= self.users {
            return false;
        }
        if self.project_in_user == 0 {
            self.user = Some(gen_user(rng, buf));
        }
        if self.project_in_user < self.projects_per_user {
            let size = self.sizes[self.project_idx];
            let user = self
                .user
                .clone()
                .expect("the user is generated before its projects");
            gen_project(rng, buf, &user, size);
            self.project_idx += 1;
            self.project_in_user += 1;
        }
        if self.project_in_user >= self.projects_per_user {
            self.user_idx += 1;
            self.project_in_user = 0;
        }
        true
    }
}

/// Tasks per project: exactly `projects × tasks_per_project` in total, heavy-tailed.
///
/// About one project in 50 is "big" (at least [`BIG_PROJECT_TASKS`] tasks) when
/// `tasks_per_project ≥ 10` and big projects fit in 60 % of the total; the rest is spread with
/// very heavy-tailed weights ([`SeedRng::heavy_weight`]): about 10 % of the remaining projects are
/// empty, the median project is well below the mean, a few are many times above it.
pub(crate) fn task_counts(rng: &mut SeedRng, projects: usize, tasks_per_project: u32) -> Vec<u32> {
    let total = projects as u64 * u64::from(tasks_per_project);
    let mut counts = vec![0u64; projects];
    if total == 0 {
        return vec![0; projects];
    }

    let big_budget = total * 6 / 10;
    let mut n_big = if tasks_per_project >= 10 {
        projects.div_ceil(50)
    } else {
        0
    };
    while n_big > 0 && n_big as u64 * BIG_PROJECT_TASKS > big_budget {
        n_big -= 1;
    }
    let big = rng.distinct(projects, n_big);
    let extras: Vec<u64> = big
        .iter()
        .map(|_| ((rng.pareto_weight(1_000) - 100) * 4).min(800))
        .collect();
    let extra_budget = big_budget - n_big as u64 * BIG_PROJECT_TASKS;
    let extra_sum: u64 = extras.iter().sum();
    for (&i, &extra) in big.iter().zip(&extras) {
        let extra = if extra_sum > extra_budget {
            (u128::from(extra) * u128::from(extra_budget) / u128::from(extra_sum)) as u64
        } else {
            extra
        };
        counts[i] = BIG_PROJECT_TASKS + extra;
    }
    let big_total: u64 = counts.iter().sum();
    let remaining = total - big_total;

    let mut is_big = vec![false; projects];
    big.iter().for_each(|&i| is_big[i] = true);
    let rest: Vec<usize> = (0..projects).filter(|&i| !is_big[i]).collect();
    let mut weights: Vec<u64> = rest
        .iter()
        .map(|_| {
            if rng.pct(10) {
                0
            } else {
                rng.heavy_weight(5_000)
            }
        })
        .collect();
    if rest.is_empty() {
        // Every project is big: spread the remainder over them.
        for k in 0..remaining as usize {
            counts[big[k % big.len()]] += 1;
        }
    } else {
        if weights.iter().all(|&w| w == 0) {
            weights.iter_mut().for_each(|w| *w = 1);
        }
        let weight_sum: u128 = weights.iter().map(|&w| u128::from(w)).sum();
        let mut remainders: Vec<(u128, usize)> = Vec::with_capacity(rest.len());
        let mut given = 0u64;
        for (k, (&i, &w)) in rest.iter().zip(&weights).enumerate() {
            let share = u128::from(remaining) * u128::from(w);
            counts[i] = (share / weight_sum) as u64;
            given += counts[i];
            remainders.push((share % weight_sum, k));
        }
        // Largest remainder first; ties by position: fully deterministic.
        remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        for &(_, k) in remainders.iter().take((remaining - given) as usize) {
            counts[rest[k]] += 1;
        }
    }
    counts.into_iter().map(|c| c as u32).collect()
}

/// A user with a realistic name and a seed-specific email.
fn gen_user(rng: &mut SeedRng, buf: &mut Buffers) -> UserCtx {
    let first = rng.pick(vocab::FIRST_NAMES);
    let last = rng.pick(vocab::LAST_NAMES);
    let email = format!(
        "{}.{}.{}@{}",
        ascii_fold(first),
        ascii_fold(last),
        rng.hex(6),
        rng.pick(vocab::EMAIL_DOMAINS)
    );
    // A few users never filled in their name (legacy users.name is nullable).
    let name = if rng.pct(3) {
        None
    } else {
        Some(format!("{first} {last}"))
    };
    let created_at = rng.seconds_from(crate::anchor(), -1_200 * 86_400, -420 * 86_400);
    let user = UserCtx {
        id: rng.uuid(),
        email,
        name,
        created_at,
    };
    buf.users.push(UserRow {
        id: user.id,
        email: user.email.clone(),
        name: user.name.clone(),
        is_admin: rng.pct(2),
        timezone: rng.pick(vocab::TIMEZONES).to_owned(),
        created_at: user.created_at,
    });
    user
}

/// A project with `size` tasks and everything under it.
fn gen_project(rng: &mut SeedRng, buf: &mut Buffers, user: &UserCtx, size: u32) {
    gen_project_with_status(rng, buf, user, size, None);
}

/// One more user owning one active project of `size` tasks, generated like any other (the
/// "giant project" of `make bench-scale`).
pub(crate) fn gen_giant(rng: &mut SeedRng, buf: &mut Buffers, size: u32) {
    let user = gen_user(rng, buf);
    gen_project_with_status(rng, buf, &user, size, Some("active"));
}

fn gen_project_with_status(
    rng: &mut SeedRng,
    buf: &mut Buffers,
    user: &UserCtx,
    size: u32,
    status: Option<&'static str>,
) {
    let anchor = crate::anchor();
    let domain = &DOMAINS[rng.index(DOMAINS.len())];
    let ctx = ProjectCtx::new(rng, domain);
    let id = rng.uuid();
    let (name_template, description_template) = rng.pick(domain.projects);
    let name = ctx.fill(rng, name_template);
    let drawn = PROJECT_STATUSES[rng.weighted(&PROJECT_STATUS_WEIGHTS)];
    let status = status.unwrap_or(drawn);
    let created_at = rng.seconds_from(anchor, -400 * 86_400, -5 * 86_400);
    let start = rng.days_from(created_at.date_naive(), 0, 60);

    // Phases: consecutive ranges from the project start; with starts spread over the last
    // ~13 months they fall in the past, around the anchor, or in the future.
    let n_phases = rng.weighted(&[12, 10, 18, 22, 18, 12, 8]);
    let mut phases: Vec<PhaseRow> = Vec::with_capacity(n_phases);
    let mut cursor = start;
    for order in 0..n_phases {
        let phase_start = rng.days_from(cursor, 0, 7);
        let phase_end = rng.days_from(phase_start, 14, 75);
        cursor = phase_end + Duration::days(1);
        let phase_created = rng.between(created_at, created_at + Duration::days(14));
        phases.push(PhaseRow {
            id: rng.uuid(),
            project_id: id,
            user_id: user.id,
            name: domain.phases[order % domain.phases.len()].to_owned(),
            description: rng
                .pct(60)
                .then(|| rng.pick(vocab::PHASE_DESCRIPTIONS).to_owned()),
            order: order as i32 + 1,
            start_date: phase_start,
            end_date: phase_end,
            scheduling_method: rng.pct(70).then(|| rng.pick(vocab::SCHEDULING_METHODS)),
            created_at: phase_created,
            updated_at: rng.between(phase_created, anchor),
        });
    }
    let end = match phases.last() {
        Some(last) => rng.days_from(last.end_date, 0, 14),
        None => rng.days_from(start, 30, 200),
    };

    let description = rng.pct(85).then(|| ctx.fill(rng, description_template));
    let context = rng
        .pct(55)
        .then(|| context_markdown(rng, &ctx, &name, description.as_deref()));
    let tags = if rng.pct(70) {
        let n = rng.int(1, 4) as usize;
        let picked = rng.distinct(domain.tags.len(), n);
        Some(
            picked
                .into_iter()
                .map(|i| domain.tags[i].to_owned())
                .collect(),
        )
    } else if rng.pct(10) {
        Some(Vec::new())
    } else {
        None
    };
    let mut core: [Option<String>; 9] = Default::default();
    if rng.pct(30) {
        for (slot, values) in core.iter_mut().zip(vocab::CORE_VALUES) {
            if rng.pct(60) {
                *slot = Some(rng.pick(values).to_owned());
            }
        }
    }
    let core_context_descriptions = rng.pct(8).then(|| {
        json!({ "goals_momentum": "What keeps the project moving", "people_bonds": "Who it is for" })
    });
    let source = match rng.weighted(&[50, 30, 10, 10]) {
        0 => Some("manual"),
        1 => Some("brain_dump"),
        2 => Some("onboarding"),
        _ => None,
    };
    let source_metadata = (source == Some("brain_dump"))
        .then(|| json!({ "brain_dump_id": rng.uuid().to_string(), "domain": domain.key }));

    // Calendar for ~30 % of projects.
    let calendar = rng
        .pct(30)
        .then(|| gen_calendar(rng, id, user, &name, created_at));
    let (color, settings, sync_enabled) = match &calendar {
        Some(cal) => (
            cal.color_id.clone(),
            Some(json!({
                "default_event_duration": 60,
                "reminders_minutes": [10, 60],
                "working_hours": { "start": "09:00", "end": "17:00" }
            })),
            Some(cal.sync_enabled),
        ),
        None => (
            rng.pct(10).then(|| rng.int(1, 11).to_string()),
            None,
            rng.pct(30).then_some(false),
        ),
    };

    let project = ProjectRow {
        id,
        user_id: user.id,
        slug: slugify(&name),
        name,
        description,
        status,
        context,
        executive_summary: rng
            .pct(35)
            .then(|| rng.pick(vocab::EXECUTIVE_SUMMARIES).to_owned()),
        tags,
        start_date: rng.pct(88).then_some(start),
        end_date: rng
            .pct(if phases.is_empty() { 55 } else { 80 })
            .then_some(end),
        core,
        core_context_descriptions,
        calendar_color_id: color,
        calendar_settings: settings,
        calendar_sync_enabled: sync_enabled,
        source: source.map(str::to_owned),
        source_metadata,
        created_at,
        updated_at: rng.between(created_at, anchor),
    };

    gen_tasks(
        rng,
        buf,
        user,
        &ctx,
        &project,
        &phases,
        calendar.as_ref(),
        size,
    );
    buf.projects.push(project);
    buf.phases.extend(phases);
    if let Some(cal) = calendar {
        buf.calendars.push(cal);
    }
}

/// The `size` tasks of a project, their phase links and calendar events.
#[allow(clippy::too_many_arguments)]
fn gen_tasks(
    rng: &mut SeedRng,
    buf: &mut Buffers,
    user: &UserCtx,
    ctx: &ProjectCtx,
    project: &ProjectRow,
    phases: &[PhaseRow],
    calendar: Option<&CalendarRow>,
    size: u32,
) {
    let anchor = crate::anchor();
    let n = size as usize;
    let ids: Vec<Uuid> = (0..n).map(|_| rng.uuid()).collect();
    let closed = matches!(project.status, "completed" | "archived");

    // Phases that receive tasks: sometimes one is left empty.
    let mut eligible: Vec<usize> = (0..phases.len()).collect();
    if phases.len() >= 2 && rng.pct(35) {
        let skip = rng.index(phases.len());
        eligible.retain(|&p| p != skip);
    }
    let mut phase_order = vec![0i32; phases.len()];

    for (i, &id) in ids.iter().enumerate() {
        let mode = rng.weighted(&ctx.domain.mode_weights);
        let specific = ctx.domain.tasks[mode];
        let template = if !specific.is_empty() && rng.pct(55) {
            rng.pick(specific)
        } else {
            rng.pick(vocab::GENERIC_TASKS[mode])
        };
        let title = ctx.fill(rng, template);
        let created_at = rng.between(project.created_at, anchor);
        let status = if closed {
            TASK_STATUSES[rng.weighted(&[20, 5, 5, 70])]
        } else {
            TASK_STATUSES[rng.weighted(&[55, 20, 7, 18])]
        };
        let recurring = rng.pct(8);
        let (pattern, ends, end_source) = if recurring {
            let pattern = RECURRENCE_PATTERNS[rng.index(RECURRENCE_PATTERNS.len())];
            if rng.pct(45) {
                let ends = rng.days_from(anchor.date_naive(), 30, 365);
                let source = rng.pick(&["user_specified", "end_date", "project_end"]);
                (Some(pattern), Some(ends), Some(source))
            } else {
                (
                    Some(pattern),
                    None,
                    Some(rng.pick(&["indefinite", "project_inherited"])),
                )
            }
        } else {
            (None, None, None)
        };
        let start_date = rng
            .pct(if recurring { 90 } else { 65 })
            .then(|| work_time(rng, -120, 120));
        let duration = rng
            .pct(if recurring { 85 } else { 60 })
            .then(|| DURATIONS[rng.index(DURATIONS.len())]);
        let parent_task_id = (i > 0 && rng.pct(10)).then(|| ids[rng.index(i)]);
        let dependencies = (n >= 2 && rng.pct(10)).then(|| {
            let m = rng.int(1, 3.min(n as i64 - 1)) as usize;
            let mut deps = Vec::with_capacity(m);
            while deps.len() < m {
                let j = rng.index(n);
                let dep = ids[j].to_string();
                if j != i && !deps.contains(&dep) {
                    deps.push(dep);
                }
            }
            deps
        });
        let outdated = match rng.int(0, 99) {
            0..=4 => Some(true),
            5..=64 => Some(false),
            _ => None,
        };
        let source = rng.pct(70).then(|| rng.pick(vocab::TASK_SOURCES));
        let source_calendar_event_id =
            (source == Some("calendar")).then(|| rng.chars(26, GCAL_ID_ALPHABET));
        let completed_at = (status == "done").then(|| rng.between(created_at, anchor));
        let deleted_at = rng.pct(5).then(|| rng.between(created_at, anchor));
        let last_change = [Some(created_at), completed_at, deleted_at]
            .into_iter()
            .flatten()
            .max();
        let updated_at = rng.between(last_change.unwrap_or(created_at), anchor);

        let task = TaskRow {
            id,
            user_id: user.id,
            project_id: Some(project.id),
            parent_task_id,
            description: rng.pct(65).then(|| {
                if rng.pct(80) {
                    ctx.fill_pick(rng, vocab::MODE_DESCRIPTIONS[mode])
                } else {
                    ctx.fill_pick(rng, vocab::TASK_DESCRIPTIONS)
                }
            }),
            details: rng.pct(25).then(|| ctx.fill_pick(rng, vocab::TASK_DETAILS)),
            task_steps: rng.pct(18).then(|| rng.pick(vocab::TASK_STEPS).to_owned()),
            title,
            status,
            priority: PRIORITIES[rng.weighted(&PRIORITY_WEIGHTS)],
            task_type: if recurring { "recurring" } else { "one_off" },
            start_date,
            duration_minutes: duration,
            recurrence_pattern: pattern,
            recurrence_ends: ends,
            recurrence_end_source: end_source,
            dependencies,
            outdated,
            source: source.map(str::to_owned),
            source_calendar_event_id,
            completed_at,
            deleted_at,
            created_at,
            updated_at,
        };

        // Phase links: most tasks sit in one phase, ~12 % of those in a second one too.
        if !eligible.is_empty() && rng.pct(88) {
            let first = eligible[rng.index(eligible.len())];
            let mut chosen = vec![first];
            if eligible.len() >= 2 && rng.pct(12) {
                let second = loop {
                    let p = eligible[rng.index(eligible.len())];
                    if p != first {
                        break p;
                    }
                };
                chosen.push(second);
            }
            for p in chosen {
                let phase = &phases[p];
                phase_order[p] += 1;
                let span = (phase.end_date - phase.start_date).num_days();
                buf.phase_tasks.push(PhaseTaskRow {
                    id: rng.uuid(),
                    phase_id: phase.id,
                    task_id: id,
                    order: phase_order[p],
                    assignment_reason: rng
                        .pct(40)
                        .then(|| rng.pick(vocab::ASSIGNMENT_REASONS).to_owned()),
                    suggested_start_date: rng
                        .pct(30)
                        .then(|| rng.days_from(phase.start_date, 0, span.max(0))),
                    created_at: task.created_at,
                });
            }
        }

        if rng.pct(15) {
            gen_events(rng, buf, user, &task, calendar);
        }
        buf.tasks.push(task);
    }
}

/// The Google calendar of a project.
fn gen_calendar(
    rng: &mut SeedRng,
    project_id: Uuid,
    user: &UserCtx,
    project_name: &str,
    project_created: DateTime<Utc>,
) -> CalendarRow {
    let anchor = crate::anchor();
    let created_at = rng.between(project_created, anchor);
    let sync_status = match rng.weighted(&[80, 12, 8]) {
        0 => "active",
        1 => "paused",
        _ => "error",
    };
    CalendarRow {
        id: rng.uuid(),
        project_id,
        user_id: user.id,
        calendar_id: format!("c_{}@group.calendar.google.com", rng.hex(32)),
        calendar_name: format!("BuildOS: {project_name}"),
        color_id: Some(rng.int(1, 11).to_string()),
        hex_color: Some(rng.pick(vocab::HEX_COLORS).to_owned()),
        is_primary: rng.pct(3),
        sync_enabled: rng.pct(85),
        sync_status: (!rng.pct(5)).then_some(sync_status),
        sync_error: (sync_status == "error").then(|| rng.pick(vocab::SYNC_ERRORS).to_owned()),
        last_synced_at: rng.pct(90).then(|| rng.between(created_at, anchor)),
        visibility: Some(["private", "shared", "public"][rng.weighted(&[70, 20, 10])]),
        created_at,
        updated_at: rng.between(created_at, anchor),
    }
}

/// One calendar event for a task, plus a modified instance for some recurring ones.
fn gen_events(
    rng: &mut SeedRng,
    buf: &mut Buffers,
    user: &UserCtx,
    task: &TaskRow,
    calendar: Option<&CalendarRow>,
) {
    let anchor = crate::anchor();
    let start = task.start_date.unwrap_or_else(|| work_time(rng, -90, 90));
    let minutes = i64::from(
        task.duration_minutes
            .unwrap_or_else(|| rng.pick(&[30, 60, 90, 120])),
    );
    let (calendar_id, project_calendar_id) = match calendar {
        Some(cal) if rng.pct(90) => (cal.calendar_id.clone(), Some(cal.id)),
        _ if rng.pct(60) => ("primary".to_owned(), None),
        _ => (user.email.clone(), None),
    };
    let event_id = rng.chars(26, GCAL_ID_ALPHABET);
    let sync_status = SYNC_STATUSES[rng.weighted(&SYNC_STATUS_WEIGHTS)];
    let created_at = rng.between(task.created_at, anchor);
    let rule = task.recurrence_pattern.map(|pattern| {
        let base = match pattern {
            "daily" => "RRULE:FREQ=DAILY",
            "weekdays" => "RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
            "weekly" => "RRULE:FREQ=WEEKLY",
            "biweekly" => "RRULE:FREQ=WEEKLY;INTERVAL=2",
            "monthly" => "RRULE:FREQ=MONTHLY",
            "quarterly" => "RRULE:FREQ=MONTHLY;INTERVAL=3",
            _ => "RRULE:FREQ=YEARLY",
        };
        match task.recurrence_ends {
            Some(ends) => format!("{base};UNTIL={}", ends.format("%Y%m%d")),
            None => base.to_owned(),
        }
    });
    let (organizer_email, organizer_display_name, organizer_self) = match rng.int(0, 9) {
        0..=7 => (Some(user.email.clone()), user.name.clone(), Some(true)),
        8 => {
            let (email, name) = person(rng);
            (Some(email), Some(name), Some(false))
        }
        _ => (None, None, None),
    };
    let attendees = rng.pct(35).then(|| {
        let n = rng.int(1, 4);
        Value::Array(
            (0..n)
                .map(|_| {
                    let (email, _) = person(rng);
                    json!({ "email": email, "responseStatus": rng.pick(&RESPONSE_STATUSES) })
                })
                .collect(),
        )
    });
    let recurring = rule.is_some();
    let master = EventRow {
        id: rng.uuid(),
        task_id: task.id,
        user_id: user.id,
        calendar_id: calendar_id.clone(),
        calendar_event_id: event_id.clone(),
        project_calendar_id,
        event_title: match rng.int(0, 19) {
            0..=2 => None,
            3 => Some(format!("Work on: {}", task.title)),
            _ => Some(task.title.clone()),
        },
        event_start: Some(start),
        event_end: Some(start + Duration::minutes(minutes)),
        event_link: rng.pct(90).then(|| {
            format!(
                "https://www.google.com/calendar/event?eid={}",
                rng.chars(40, EID_ALPHABET)
            )
        }),
        attendees,
        organizer_email,
        organizer_display_name,
        organizer_self,
        recurrence_rule: rule,
        recurrence_master_id: None,
        recurrence_instance_date: None,
        is_master_event: if recurring {
            Some(true)
        } else {
            rng.pct(70).then_some(false)
        },
        is_exception: if recurring {
            Some(false)
        } else {
            rng.pct(70).then_some(false)
        },
        exception_type: None,
        original_start_time: None,
        series_update_scope: None,
        sync_status,
        sync_source: rng.pct(85).then_some("google"),
        sync_error: (sync_status == "failed").then(|| rng.pick(vocab::SYNC_ERRORS).to_owned()),
        sync_version: rng.pct(85).then(|| rng.int(1, 6) as i32),
        last_synced_at: (sync_status != "pending").then(|| rng.between(created_at, anchor)),
        created_at: rng.pct(95).then_some(created_at),
        updated_at: Some(rng.between(created_at, anchor)),
    };

    // A modified or cancelled occurrence of a recurring series.
    let instance = (recurring && rng.pct(50)).then(|| {
        let original = start + Duration::days(7);
        let cancelled = rng.pct(30);
        let moved = if cancelled {
            original
        } else {
            original + Duration::hours(rng.int(1, 3))
        };
        EventRow {
            id: rng.uuid(),
            task_id: task.id,
            user_id: user.id,
            calendar_id,
            calendar_event_id: format!("{event_id}_{}", original.format("%Y%m%dT%H%M%SZ")),
            project_calendar_id,
            event_title: master.event_title.clone(),
            event_start: Some(moved),
            event_end: Some(moved + Duration::minutes(minutes)),
            event_link: master.event_link.clone(),
            attendees: master.attendees.clone(),
            organizer_email: master.organizer_email.clone(),
            organizer_display_name: master.organizer_display_name.clone(),
            organizer_self: master.organizer_self,
            recurrence_rule: None,
            recurrence_master_id: Some(event_id.clone()),
            recurrence_instance_date: Some(original.format("%Y-%m-%d").to_string()),
            is_master_event: Some(false),
            is_exception: Some(true),
            exception_type: Some(if cancelled { "cancelled" } else { "modified" }),
            original_start_time: Some(original.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            series_update_scope: Some(rng.pick(&["single", "future", "all"])),
            sync_status: if cancelled {
                "cancelled"
            } else {
                master.sync_status
            },
            sync_source: master.sync_source,
            sync_error: None,
            sync_version: master.sync_version,
            last_synced_at: master.last_synced_at,
            created_at: master.created_at,
            updated_at: master.updated_at,
        }
    });
    buf.events.push(master);
    buf.events.extend(instance);
}

/// A working-hours time `lo..=hi` days around the anchor, on a quarter hour.
pub(crate) fn work_time(rng: &mut SeedRng, lo: i64, hi: i64) -> DateTime<Utc> {
    crate::anchor()
        + Duration::days(rng.int(lo, hi))
        + Duration::hours(rng.int(8, 17))
        + Duration::minutes(15 * rng.int(0, 3))
}

/// A random person: (email, display name).
pub(crate) fn person(rng: &mut SeedRng) -> (String, String) {
    let first = rng.pick(vocab::FIRST_NAMES);
    let last = rng.pick(vocab::LAST_NAMES);
    let email = format!(
        "{}.{}@{}",
        ascii_fold(first),
        ascii_fold(last),
        rng.pick(vocab::EMAIL_DOMAINS)
    );
    (email, format!("{first} {last}"))
}

/// The `projects.context` markdown of a project.
fn context_markdown(
    rng: &mut SeedRng,
    ctx: &ProjectCtx,
    name: &str,
    description: Option<&str>,
) -> String {
    let mut md = format!("# {name}\n\n## Why\n\n");
    md.push_str(description.unwrap_or("Because it matters to me."));
    md.push_str("\n\n## Current state\n\n");
    for _ in 0..rng.int(2, 4) {
        let mode = rng.index(vocab::MODES.len());
        let line = rng.pick(vocab::GENERIC_TASKS[mode]);
        md.push_str("- ");
        md.push_str(&ctx.fill(rng, line));
        md.push('\n');
    }
    md.push_str("\n## Constraints\n\n");
    md.push_str(&format!("- Budget: ${}k\n", rng.int(2, 120)));
    let deadline: NaiveDate = rng.days_from(crate::anchor().date_naive(), 30, 400);
    md.push_str(&format!("- Deadline: {}\n", deadline.format("%B %-d, %Y")));
    md.push_str(&format!("- Owner: {}\n", rng.pick(vocab::FIRST_NAMES)));
    md
}

/// Replace the common Latin diacritics and drop anything else that is not ASCII alphanumeric.
pub(crate) fn ascii_fold(s: &str) -> String {
    s.chars()
        .filter_map(|c| match c {
            'á' | 'à' | 'â' | 'ä' | 'å' | 'ã' => Some('a'),
            'é' | 'è' | 'ê' | 'ë' => Some('e'),
            'í' | 'ì' | 'î' | 'ï' => Some('i'),
            'ó' | 'ò' | 'ô' | 'ö' | 'ø' | 'õ' => Some('o'),
            'ú' | 'ù' | 'û' | 'ü' => Some('u'),
            'ñ' => Some('n'),
            'ç' => Some('c'),
            c if c.is_ascii_alphanumeric() => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

/// URL slug of a project name: lowercase ASCII words joined by `-` (`project` if none).
pub(crate) fn slugify(name: &str) -> String {
    let mut slug = String::with_capacity(name.len());
    for word in name.split(|c: char| !c.is_alphanumeric()) {
        let folded = ascii_fold(word);
        if !folded.is_empty() {
            if !slug.is_empty() {
                slug.push('-');
            }
            slug.push_str(&folded);
        }
    }
    if slug.is_empty() {
        "project".to_owned()
    } else {
        slug
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_counts_sum_and_tail() {
        let mut rng = SeedRng::new(7);
        let counts = task_counts(&mut rng, 500, 40);
        assert_eq!(counts.iter().map(|&c| u64::from(c)).sum::<u64>(), 20_000);
        assert!(counts.iter().filter(|&&c| c >= 200).count() >= 10);
        assert!(counts.contains(&0));
    }

    #[test]
    fn task_counts_small_totals() {
        for (projects, tpp) in [
            (0, 10),
            (1, 0),
            (1, 7),
            (3, 10),
            (20, 10),
            (50, 10),
            (2, 1000),
        ] {
            let mut rng = SeedRng::new(1);
            let counts = task_counts(&mut rng, projects, tpp);
            assert_eq!(counts.len(), projects);
            assert_eq!(
                counts.iter().map(|&c| u64::from(c)).sum::<u64>(),
                projects as u64 * u64::from(tpp)
            );
        }
        let mut rng = SeedRng::new(1);
        assert!(task_counts(&mut rng, 50, 10).iter().any(|&c| c >= 200));
    }

    #[test]
    fn slugs_and_fill() {
        assert_eq!(
            slugify("Mom's 60th Birthday Party"),
            "mom-s-60th-birthday-party"
        );
        assert_eq!(slugify("Zoë & Müller — v2.0"), "zoe-muller-v2-0");
        assert_eq!(slugify("東京 🚀"), "project");
        let mut rng = SeedRng::new(3);
        let ctx = ProjectCtx::new(&mut rng, &DOMAINS[4]);
        let text = ctx.fill(&mut rng, "Send invoice #{inv} to {client} {unknown}");
        assert!(
            text.contains(ctx.client) && text.ends_with("{unknown}"),
            "{text}"
        );
    }
}
