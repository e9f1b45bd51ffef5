# Cross-check of `hmip regress --input FILE` on awkward public data sets shipped with R
# that no other test uses (tests/test_cross_check_awkward.py). Run from the repo root:
#   Rscript tests/data/cross_check/awkward_reference.R
#   .venv/bin/python tests/data/cross_check/awkward_files.py
# The R script writes the CSV files (NA as blank) and awkward_stepwise_r.csv (fstep.R's
# key/values, plus Hosmer-Lemeshow by SAS's documented grouping); the Python script turns
# some CSVs into the other file types --input reads (Excel, Parquet, SPSS .sav with value
# labels and a user-missing code). R reads back the CSV it wrote, as hmip reads the file.
here <- "tests/data/cross_check"
source(file.path(here, "fstep.R"))
suppressMessages({library(MASS); library(rpart); library(survival)})
# hmip/SPSS level order: text sorted by code point (radix), numbers ascending; reference last
fac <- function(x, base = "last") {
  lv <- if (is.numeric(x)) as.character(sort(unique(x[!is.na(x)]))) else sort(unique(as.character(x[!is.na(x)])), method = "radix")
  f <- factor(as.character(x), levels = lv)
  contrasts(f) <- contr.treatment(lv, base = if (base == "last") length(lv) else 1); f }
# Hosmer-Lemeshow by SAS PROC LOGISTIC's documented grouping (statug, "The Hosmer-Lemeshow
# Goodness-of-Fit Test"): cases sorted by p-hat; cases with identical covariate values form a
# block never split; M = floor(0.1 N + 0.5); a block joins the current group (c cases) if
# c < M and c + floor(nj / 2) <= M, else starts the next; a last group of at most
# floor(0.05 N) cases joins the one before. Blocks with equal p-hat: by covariate values.
hosmer_kv <- function(d, y, terms) {
  f <- glm(reformulate(if (length(terms)) terms else "1", y), binomial, d, control = glm.control(epsilon = 1e-14, maxit = 100))
  X <- model.matrix(f); ph <- fitted(f); yy <- f$y; N <- length(yy)
  key <- apply(X, 1, function(r) paste(sprintf("%.17g", r), collapse = "|"))
  blk <- aggregate(data.frame(n = 1, o = yy, e = ph), list(key = key), sum)
  blk$p <- round(ph[match(blk$key, key)], 10)
  Xb <- X[match(blk$key, key), , drop = FALSE]
  blk <- blk[do.call(order, c(list(blk$p), lapply(seq_len(ncol(Xb)), function(j) Xb[, j]))), ]
  M <- floor(0.1 * N + 0.5); g <- integer(nrow(blk)); k <- 1; cnt <- 0
  for (j in seq_len(nrow(blk))) {
    if (j > 1 && !(cnt < M && cnt + floor(0.5 * blk$n[j]) <= M)) { k <- k + 1; cnt <- 0 }
    g[j] <- k; cnt <- cnt + blk$n[j]
  }
  if (k > 1 && sum(blk$n[g == k]) <= floor(0.05 * N)) g[g == k] <- k - 1
  G <- aggregate(blk[, c("n", "o", "e")], list(g = g), sum)
  chi <- sum((G$o - G$e)^2 / G$e + ((G$n - G$o) - (G$n - G$e))^2 / (G$n - G$e))
  data.frame(key = c("hl.groups", "hl.chi2", "hl.df", "hl.p"),
             value = c(num(nrow(G)), num(chi), num(nrow(G) - 2), num(pchisq(chi, nrow(G) - 2, lower.tail = FALSE))))
}
out <- list()
# Listwise deletion first, then the factors (cat) over the levels among the cases used, as
# SPSS and hmip code them. names: R's names -> the file's column names in keys and values.
run <- function(name, d, y, cands, pin = 0.05, pout = 0.10, removal = "lr", names = NULL,
                cat = character(0), base = "last") {
  n_total <- nrow(d)
  d <- d[complete.cases(d[, c(y, cands)]), , drop = FALSE]
  for (v in cat) d[[v]] <- fac(d[[v]], base)
  kv <- fstep_kv(d, y, cands, pin = pin, pout = pout, removal = removal, lp_separation = TRUE)
  kv$value[kv$key == "n_dropped"] <- num(n_total - nrow(d))
  fin <- kv$value[kv$key == "final_terms"]
  if (kv$value[kv$key == "reliable"] == "true")
    kv <- rbind(kv, hosmer_kv(d, y, if (nzchar(fin)) strsplit(fin, ",")[[1]] else character(0)))
  if (!is.null(names)) for (k in names(names)) {
    kv$key <- gsub(k, names[[k]], kv$key, fixed = TRUE); kv$value <- gsub(k, names[[k]], kv$value, fixed = TRUE) }
  out[[length(out) + 1]] <<- data.frame(model = name, removal = removal, kv)
}
wcsv <- function(d, f) write.csv(d, file.path(here, f), row.names = FALSE, na = "", fileEncoding = "UTF-8")
rcsv <- function(f, ...) read.csv(file.path(here, f), na.strings = c("", "NA"), encoding = "UTF-8", ...)

# rpart::kyphosis (81): text outcome absent/present; column names with a non-ASCII letter,
# spaces, parentheses and a dot. PIN .2 POUT .25: all three enter.
k <- kyphosis; names(k) <- c("Kyphosis", "Âge (months)", "Number", "Start.vertebra")
wcsv(k, "kyphosis.csv")
kk <- rcsv("kyphosis.csv", check.names = FALSE); kk$y <- as.integer(kk$Kyphosis == "present")
names(kk)[2] <- "AGEM"
run("kyphosis_pin.2", kk, "y", c("AGEM", "Number", "Start.vertebra"), pin = 0.2, pout = 0.25, names = c(AGEM = "Âge (months)"))

# survival::lung (228) as .sav: status 1/2 with labels (event 2 = dead); sex 1/2 labelled,
# --categorical; wt.loss written as -99 and declared user-missing; NA in ph.ecog, ph.karno,
# pat.karno, meal.cal (system-missing). PIN .5 POUT .6.
l <- lung[, c("status", "age", "sex", "ph.ecog", "ph.karno", "pat.karno", "meal.cal", "wt.loss")]
wcsv(l, "lung.csv")
ll <- rcsv("lung.csv"); ll$y <- as.integer(ll$status == 2)
run("lung_pin.5", ll, "y", c("age", "sex", "ph.ecog", "ph.karno", "pat.karno", "meal.cal", "wt.loss"), pin = 0.5, pout = 0.6, cat = "sex")

# survival::pbc (418) as Parquet: outcome died/alive, missing for the 25 transplanted; trt
# 1/2 with NA, edema 0/0.5/1 and stage 1-4 with NA as codes (--categorical); sex m/f text;
# ascites, hepato, spiders 0/1 with NA. Conditional removal.
p <- pbc[, c("status", "trt", "age", "sex", "ascites", "hepato", "spiders", "edema", "bili", "chol", "albumin", "stage")]
p$outcome <- ifelse(p$status == 2, "died", ifelse(p$status == 0, "alive", NA)); p$status <- NULL
p <- p[, c("outcome", setdiff(names(p), "outcome"))]
wcsv(p, "pbc.csv")
pp <- rcsv("pbc.csv"); pp$y <- as.integer(pp$outcome == "died")
run("pbc", pp, "y", c("trt", "age", "sex", "ascites", "hepato", "spiders", "edema", "bili", "chol", "albumin", "stage"),
    removal = "conditional", cat = c("trt", "sex", "edema", "stage"))

# MASS::Cars93 (93) as .xlsx: R factor outcome Origin (USA / non-USA: event non-USA, as
# SPSS's sort); Cylinders a text column of numbers and one 'rotary' (--categorical);
# AirBags levels with spaces and '&'; Large cars are all USA (a level with no events);
# NA in Rear.seat.room and Luggage.room (all 9 vans lack the latter: Type loses a level).
c9 <- Cars93[, c("Origin", "Type", "AirBags", "DriveTrain", "Cylinders", "Man.trans.avail", "Price", "MPG.city", "Horsepower", "Rear.seat.room", "Luggage.room")]
wcsv(c9, "cars93.csv")
cc <- rcsv("cars93.csv"); cc$y <- as.integer(cc$Origin == "non-USA")
run("cars93_pin.3", cc, "y", setdiff(names(c9), "Origin"), pin = 0.3, pout = 0.35,
    cat = c("Type", "AirBags", "DriveTrain", "Cylinders", "Man.trans.avail"))

# datasets::airquality (153): outcome Yes/No (Ozone > 60), blank where Ozone is NA; Month
# 5-9 as codes (--categorical). Temp + Wind puts a day at p-hat < 1e-8, yet the MLE
# exists (no separation); Wald removal.
aq <- airquality; aq$high <- ifelse(is.na(aq$Ozone), NA, ifelse(aq$Ozone > 60, "Yes", "No"))
aq <- aq[, c("high", "Solar.R", "Wind", "Temp", "Month")]
wcsv(aq, "airquality.csv")
aa <- rcsv("airquality.csv"); aa$y <- as.integer(aa$high == "Yes")
run("airquality", aa, "y", c("Solar.R", "Wind", "Temp", "Month"), removal = "wald", cat = "Month")

write.csv(do.call(rbind, out), file.path(here, "awkward_stepwise_r.csv"), row.names = FALSE, fileEncoding = "UTF-8")
