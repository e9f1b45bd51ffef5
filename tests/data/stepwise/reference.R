# Reference values for tests/test_stepwise_reference.py, computed with R (stats::glm,
# add1(test = "Rao"), drop1(test = "LRT")) by running SPSS's FSTEP sequence by hand.
# Run: Rscript tests/data/stepwise/reference.R  (tests never call R; the printed numbers
# are pasted into the tests beside the call that produced them).
library(MASS)
options(digits = 15)
ctl <- glm.control(epsilon = 1e-14, maxit = 100)
f12 <- function(x) sprintf("%.12g", x)

show_fit <- function(fit) {
  cf <- summary(fit)$coefficients
  for (i in seq_len(nrow(cf))) cat("  coef", rownames(cf)[i], "B", f12(cf[i, 1]), "SE", f12(cf[i, 2]), "\n")
  cat("  logLik", f12(as.numeric(logLik(fit))), "\n")
}

fstep <- function(data, y, cands, pin = 0.05, pout = 0.10, removal = "lr") {
  current <- character(0)
  visited <- list(character(0))
  seen <- function(m) any(vapply(visited, function(v) setequal(v, m), TRUE))
  fitm <- function(m) glm(reformulate(if (length(m)) m else "1", y), binomial, data, control = ctl)
  step <- 0
  fit <- fitm(current)
  cat("step 0\n"); show_fit(fit)
  repeat {
    rest <- setdiff(cands, current)
    if (!length(rest)) break
    a <- add1(fit, scope = reformulate(c(current, rest)), test = "Rao")
    a <- a[-1, ]
    for (t in rownames(a)) cat("  score", t, f12(a[t, "Rao score"]), "df", a[t, "Df"], "p", f12(a[t, "Pr(>Chi)"]), "\n")
    best <- rownames(a)[which.min(a[, "Pr(>Chi)"])]
    if (a[best, "Pr(>Chi)"] >= pin) { cat("stop: entry\n"); break }
    if (seen(c(current, best))) { cat("stop: repeat\n"); break }
    current <- c(current, best); visited[[length(visited) + 1]] <- current
    step <- step + 1; fit <- fitm(current)
    cat("step", step, "enter", best, "\n"); show_fit(fit)
    repeat {
      if (removal == "lr") {
        d <- drop1(fit, test = "LRT")[-1, , drop = FALSE]
        stat <- d[, "LRT"]; df <- d[, "Df"]; names(stat) <- rownames(d)
      } else {  # Wald: b' V^-1 b over the term's coefficients
        asg <- attr(model.matrix(fit), "assign"); labs <- attr(terms(fit), "term.labels")
        stat <- sapply(seq_along(labs), function(j) { k <- which(asg == j); b <- coef(fit)[k]
          as.numeric(t(b) %*% solve(vcov(fit)[k, k, drop = FALSE]) %*% b) })
        df <- sapply(seq_along(labs), function(j) sum(asg == j)); names(stat) <- labs
      }
      p <- pchisq(stat, df, lower.tail = FALSE)
      for (t in names(stat)) cat("  removal", t, f12(stat[t]), "p", f12(p[t]), "\n")
      worst <- names(p)[which.max(p)]
      if (p[worst] <= pout) break
      reduced <- setdiff(current, worst)
      if (seen(reduced)) { cat("stop: repeat on removal\n"); break }
      current <- reduced; visited[[length(visited) + 1]] <- current
      step <- step + 1; fit <- fitm(current)
      cat("step", step, "remove", worst, "\n"); show_fit(fit)
    }
  }
  cat("final:", current, "\n")
  invisible(fit)
}

here <- "tests/data/stepwise"
cat("==== remission (SAS Example: SLENTRY=0.3 SLSTAY=0.35, Wald removal)\n")
rem <- read.csv(file.path(here, "remission.csv"))
fstep(rem, "remiss", c("cell", "smear", "infil", "li", "blast", "temp"), 0.3, 0.35, "wald")

cat("==== birthwt, mixed (race factor, reference = last level 3)\n")
bw <- read.csv(file.path(here, "birthwt.csv"))
bw$race <- factor(bw$race); contrasts(bw$race) <- contr.treatment(3, base = 3)
fstep(bw, "low", c("age", "lwt", "race", "smoke", "ptd", "ht", "ui"))

cat("==== birthwt, all categorical (race + four 0/1 factors), liberal PIN to enter race\n")
bc <- bw
for (v in c("smoke", "ptd", "ht", "ui")) { bc[[v]] <- factor(bc[[v]]); contrasts(bc[[v]]) <- contr.treatment(2, base = 2) }
fstep(bc, "low", c("race", "smoke", "ptd", "ht", "ui"), 0.2, 0.3)

cat("==== biopsy (MASS), V1 V2 V3 V6 V8: V3 enters at step 2 and leaves at step 6\n")
bi <- read.csv(file.path(here, "biopsy.csv"))
bi$y <- as.integer(bi$class == "malignant")
fstep(bi, "y", c("V1", "V2", "V3", "V6", "V8"))

cat("==== conditional statistic (SPSS FSTEP(COND)), remission model li + temp + cell\n")
# SPSS Algorithms: beta~_r = beta_r - C_ri C_ii^-1 beta_i; statistic = -2 (L(beta~) - L(beta))
fit <- glm(remiss ~ li + temp + cell, binomial, rem, control = ctl)
X <- model.matrix(fit); yv <- rem$remiss; b <- coef(fit); C <- vcov(fit)
ll <- function(beta, cols) { eta <- X[, cols, drop = FALSE] %*% beta; sum(yv * eta - log1p(exp(eta))) }
for (v in c("li", "temp", "cell")) {
  i <- which(names(b) == v); r <- setdiff(seq_along(b), i)
  bt <- b[r] - C[r, i, drop = FALSE] %*% solve(C[i, i, drop = FALSE]) %*% b[i]
  cat("  conditional", v, f12(-2 * (ll(bt, r) - ll(b, seq_along(b)))), "\n")
}
