# Reference for SPSS /CONTRAST codings (tests/test_stepwise_contrasts.py): glm with R's
# contr.* functions mapped to SPSS's definitions (docs/stepwise.md, "Contrasts"):
#   indicator(last)  contr.treatment(k, base = k)      indicator(first) contr.treatment(k)
#   simple(last)     contr.treatment(k, base = k) - 1/k
#   deviation(last)  contr.sum(k)
#   helmert          contr.helmert(k) %*% diag(1/(2:k)), rows and columns reversed
#   difference       contr.helmert(k) %*% diag(1/(2:k))   (reverse Helmert)
#   repeated         -MASS::contr.sdif(k)
#   polynomial       contr.poly(k)
# Run from the repository root: Rscript tests/data/stepwise/contrasts.R
source("tests/data/cross_check/fstep.R")  # ctl, ctl_exact
library(MASS)
f <- function(x) sprintf("%.12g", x)
spss <- function(kind, k) {
  d <- contr.helmert(k) %*% diag(1 / (2:k), k - 1)
  switch(kind,
    indicator = contr.treatment(k, base = k), indicator_first = contr.treatment(k),
    simple = contr.treatment(k, base = k) - 1 / k, deviation = contr.sum(k),
    helmert = d[k:1, (k - 1):1, drop = FALSE], difference = d,
    repeated = -contr.sdif(k), polynomial = contr.poly(k))
}
fit <- function(fml, d) { g <- glm(fml, binomial, d, control = ctl)
  glm(fml, binomial, d, control = ctl_exact, start = coef(g)) }
show <- function(label, m) {
  cf <- summary(m)$coefficients
  cat(label, "B", paste(f(cf[, 1]), collapse = ", "), "\n")
  cat(label, "SE", paste(f(cf[, 2]), collapse = ", "), "\n")
}
bw <- read.csv("tests/data/stepwise/birthwt.csv"); bw$race <- factor(bw$race)
es <- read.csv("tests/data/cross_check/esoph.csv"); es$agegp <- factor(es$agegp)
kinds <- c("indicator", "indicator_first", "simple", "deviation", "helmert", "difference",
           "repeated", "polynomial")
for (kind in kinds) {
  contrasts(bw$race) <- spss(kind, 3); show(paste0("birthwt.", kind), fit(low ~ lwt + race, bw))
  contrasts(es$agegp) <- spss(kind, 6); show(paste0("esoph.", kind), fit(case ~ agegp, es))
}
