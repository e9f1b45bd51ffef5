# Reference for the case-level extras (tests/test_stepwise_casewise.py): MASS::birthwt,
# glm(low ~ lwt + race + smoke), race indicator coding with reference = last.
# Run from the repository root: Rscript tests/data/stepwise/casewise.R
source("tests/data/cross_check/fstep.R")  # ctl, ctl_exact
f <- function(x) sprintf("%.12g", x)
bw <- read.csv("tests/data/stepwise/birthwt.csv")
bw$race <- factor(bw$race); contrasts(bw$race) <- contr.treatment(3, base = 3)
g <- glm(low ~ lwt + race + smoke, binomial, bw, control = ctl)
m <- glm(low ~ lwt + race + smoke, binomial, bw, control = ctl_exact, start = coef(g))
cat("corr", paste(f(cov2cor(vcov(m))), collapse = ", "), "\n")
idx <- c(1, 2, 50, 100, 189)
cat("fitted", paste(f(fitted(m)[idx]), collapse = ", "), "\n")
cat("pearson", paste(f(residuals(m, "pearson")[idx]), collapse = ", "), "\n")
cat("deviance", paste(f(residuals(m, "deviance")[idx]), collapse = ", "), "\n")
z <- residuals(m, "pearson")
cat("outliers", paste(which(abs(z) > 2), collapse = ", "), "\n")
