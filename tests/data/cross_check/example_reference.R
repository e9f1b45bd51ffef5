# Cross-check of hmip against R on the bundled example, from the raw CSV.
# Run from the repo root:  Rscript tests/data/cross_check/example_reference.R
# Writes (next to this script) the numbers tests/test_cross_check_example.py compares with
# the CLI (tests never call R):
#   rates_r.csv       Figures 1-4: n_priority, n, n_yes, percent, Wilson CI per factor x
#                     measure x breakdown group
#   protection_r.csv  Tables 1-2: n, n_yes, percent, Wilson CI per question x group
#   example_stepwise_r.csv  FSTEP(LR) path and every statistic, for every factor x measure
#                     and the four questions; plus thinking/delivery with Wald removal
# Independent of hmip: counts by hand from the raw columns per docs DOMAIN.md.
here <- "tests/data/cross_check"
source(file.path(here, "fstep.R"))
raw <- read.csv("examples/cases.csv", na.strings = "", stringsAsFactors = FALSE)
stopifnot(nrow(raw) == 1066)

# Derived groups from the raw columns
band_of <- function(score) ifelse(score >= 90, "very_high", ifelse(score >= 75, "high", ifelse(score >= 50, "medium", "low")))
ogrs_band <- ifelse(!is.na(raw$ogrs_score), band_of(raw$ogrs_score), raw$ogrs_band)
two <- function(b) ifelse(is.na(b), NA, ifelse(b %in% c("low", "medium"), "low_medium", "high_very_high"))
g <- data.frame(
  provider = raw$provider, gender = raw$gender,
  age_group = ifelse(is.na(raw$age), NA, ifelse(raw$age < 30, "under_30", "30_plus")),
  ethnicity = ifelse(is.na(raw$ethnicity), NA, ifelse(raw$ethnicity == "white", "white", "bame")),
  supervision = raw$supervision, ogrs_band = two(ogrs_band), rosh = two(raw$rosh), mappa = raw$mappa,
  stringsAsFactors = FALSE)
groups <- list(provider = c("CRC", "NPS"), gender = c("male", "female"), age_group = c("under_30", "30_plus"),
               ethnicity = c("white", "bame"), supervision = c("community", "post_custody"),
               ogrs_band = c("low_medium", "high_very_high"), rosh = c("low_medium", "high_very_high"),
               mappa = c("no", "yes"))
for (b in names(groups)) stopifnot(all(is.na(g[[b]]) | g[[b]] %in% groups[[b]]))

wilson <- function(x, n) {
  if (n == 0) return(c(NA, NA))
  100 * suppressWarnings(prop.test(x, n, correct = FALSE)$conf.int[1:2])
}
rate_row <- function(judgement, keep) {
  j <- judgement[keep]
  n <- sum(!is.na(j)); x <- sum(j == "yes", na.rm = TRUE)
  ci <- wilson(x, n)
  c(n = n, n_yes = x, percent = if (n) 100 * x / n else NA, ci_lower = ci[1], ci_upper = ci[2])
}
subsets <- function(bks) {
  out <- list(list(breakdown = "all", group = "all", keep = rep(TRUE, nrow(raw))))
  for (b in bks) {
    for (lv in groups[[b]]) out[[length(out) + 1]] <- list(breakdown = b, group = lv, keep = !is.na(g[[b]]) & g[[b]] == lv)
    if (anyNA(g[[b]])) out[[length(out) + 1]] <- list(breakdown = b, group = "not_recorded", keep = is.na(g[[b]]))
  }
  out
}
f9 <- function(df) { for (c_ in names(df)) if (is.numeric(df[[c_]])) df[[c_]] <- ifelse(is.na(df[[c_]]), "", sprintf("%.17g", df[[c_]])); df }

factors <- c("accommodation", "ete", "finance", "relationships", "lifestyle", "drugs", "alcohol",
             "emotional", "thinking", "attitudes")
measures <- c(availability = "available", delivery = "delivered", contracted = "contracted", partner = "partner")
rows <- list()
for (mi in seq_along(measures)) for (f in factors) for (s in subsets(names(groups))) {
  pri <- raw[[paste0(f, "_priority")]][s$keep]
  r <- rate_row(raw[[paste0(f, "_", measures[mi])]], s$keep)
  rows[[length(rows) + 1]] <- data.frame(figure = mi, measure = names(measures)[mi], factor = f,
    breakdown = s$breakdown, group = s$group, n_priority = sum(pri == "yes", na.rm = TRUE), t(r))
}
write.csv(f9(do.call(rbind, rows)), file.path(here, "rates_r.csv"), row.names = FALSE)

questions <- c("contracted-harm-focus" = 1, "contracted-info-review" = 1, "partner-harm-focus" = 2, "partner-info-review" = 2)
rows <- list()
for (q in names(questions)) for (s in subsets(c("provider", "gender", "age_group", "ethnicity", "supervision", "ogrs_band"))) {
  r <- rate_row(raw[[gsub("-", "_", q)]], s$keep)
  rows[[length(rows) + 1]] <- data.frame(table = questions[[q]], question = q, breakdown = s$breakdown, group = s$group, t(r))
}
write.csv(f9(do.call(rbind, rows)), file.path(here, "protection_r.csv"), row.names = FALSE)

# Stepwise: candidates as factors in hmip's level order, reference = LAST level (SPSS default)
fac <- function(x, lv) { f <- factor(x, levels = lv); contrasts(f) <- contr.treatment(lv, base = length(lv)); f }
cd <- data.frame(provider = fac(g$provider, groups$provider), gender = fac(g$gender, groups$gender),
                 age_group = fac(g$age_group, groups$age_group), ethnic_group = fac(g$ethnicity, groups$ethnicity),
                 supervision = fac(g$supervision, groups$supervision), ogrs_group = fac(g$ogrs_band, groups$ogrs_band))
cands <- names(cd)
model_kv <- function(model, column, removal = "lr") {
  d <- cd; d$y <- ifelse(raw[[column]] == "yes", 1, 0)
  d <- d[!is.na(d$y), ]  # applicable cases only
  kv <- fstep_kv(d, "y", cands, removal = removal)
  data.frame(model = model, removal = removal, kv)
}
out <- list()
for (f in factors) for (m in names(measures)) out[[length(out) + 1]] <- model_kv(paste0(f, "/", m), paste0(f, "_", measures[[m]]))
for (q in names(questions)) out[[length(out) + 1]] <- model_kv(q, gsub("-", "_", q))
out[[length(out) + 1]] <- model_kv("thinking/delivery", "thinking_delivered", "wald")
out[[length(out) + 1]] <- model_kv("emotional/delivery", "emotional_delivered", "wald")
write.csv(do.call(rbind, out), file.path(here, "example_stepwise_r.csv"), row.names = FALSE)
