# Profile-likelihood CI references for tests/test_stepwise_profile.py.
# Run from the repo root:  Rscript tests/data/profile/reference.R
# confint() (stats, MASS profile method) and the exact roots of the same profile deviance
# (uniroot on glm.fit with an offset; confint interpolates a grid with a spline).
bw <- read.csv("tests/data/stepwise/birthwt.csv")
bw$race <- factor(bw$race, levels = c(1, 2, 3)); contrasts(bw$race) <- contr.treatment(3, base = 3)
fit <- glm(low ~ lwt + race + smoke + ptd + ht + ui, family = binomial, data = bw, control = glm.control(epsilon = 1e-14, maxit = 100))
print(coef(fit), digits = 15)
ci <- confint(fit)
print(ci, digits = 15)
# exact roots of the profile deviance with offsets (uniroot), the same definition
exact <- function(j) {
  X <- model.matrix(fit); b <- coef(fit); ll <- as.numeric(logLik(fit)); q <- qchisq(0.95, 1)
  f <- function(v) { off <- X[, j] * v
    g <- glm.fit(X[, -j, drop = FALSE], fit$y, offset = off, family = binomial(), control = glm.control(epsilon = 1e-15, maxit = 100))
    2 * (ll - (sum(fit$y * (g$linear.predictors) - log1p(exp(g$linear.predictors))))) - q }
  se <- sqrt(diag(vcov(fit)))[j]
  c(uniroot(f, c(b[j] - 6 * se, b[j]), tol = 1e-13)$root, uniroot(f, c(b[j], b[j] + 6 * se), tol = 1e-13)$root)
}
for (j in 1:length(coef(fit))) print(exact(j), digits = 15)
