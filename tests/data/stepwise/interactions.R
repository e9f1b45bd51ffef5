# Reference for interaction terms (tests/test_stepwise_terms.py): MASS::birthwt, race with
# SPSS's indicator coding (reference = last level), lwt numeric, smoke and ht 0/1 numeric.
# Run from the repository root: Rscript tests/data/stepwise/interactions.R
source("tests/data/cross_check/fstep.R")  # ctl, ctl_exact, score_stat
f <- function(x) sprintf("%.12g", x)
bw <- read.csv("tests/data/stepwise/birthwt.csv")
bw$race <- factor(bw$race); contrasts(bw$race) <- contr.treatment(3, base = 3)
fit <- function(fml) { g <- glm(fml, binomial, bw, control = ctl)
  glm(fml, binomial, bw, control = ctl_exact, start = coef(g)) }
m0 <- fit(low ~ lwt + race + smoke)
r1 <- as.numeric(bw$race == 1); r2 <- as.numeric(bw$race == 2)  # indicators, ref = 3
X1 <- cbind(bw$lwt * r1, bw$lwt * r2); X2 <- cbind(r1 * bw$smoke, r2 * bw$smoke)
cat("score lwt:race", f(score_stat(m0, X1)), ncol(X1), "\n")
cat("score race:smoke", f(score_stat(m0, X2)), ncol(X2), "\n")
m1 <- fit(low ~ lwt + race + smoke + lwt:race)
cf <- summary(m1)$coefficients
cat("names", paste(rownames(cf), collapse = ", "), "\n")
cat("B", paste(f(cf[, 1]), collapse = ", "), "\n")
cat("SE", paste(f(cf[, 2]), collapse = ", "), "\n")
cat("m2ll", f(-2 * as.numeric(logLik(m1))), "\n")
