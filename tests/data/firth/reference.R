# Firth references for tests/test_stepwise_firth.py. Run from the repo root:
#   Rscript tests/data/firth/reference.R
# B and S.E.: brglm2 (method = "brglmFit", type = "AS_mean" = Firth's estimates for logistic
# regression). Penalised LR tests and profile penalised CIs: brglm2 has none, so they are
# computed here independently of hmip, by optim() on the penalised log-likelihood
# l(b) + 1/2 log det(X'WX) of the full design with the tested coefficient fixed (logistf's
# definition), and uniroot() for the CI limits.
library(brglm2)
p <- function(...) print(c(...), digits = 15)
data("endometrial", package = "brglm2")
write.csv(endometrial, "tests/data/firth/endometrial.csv", row.names = FALSE)
fit <- glm(HG ~ NV + PI + EH, family = binomial, data = endometrial,
           method = "brglmFit", type = "AS_mean", epsilon = 1e-14, maxit = 500)
p(coef(fit)); p(sqrt(diag(vcov(fit))))
X <- model.matrix(fit); yy <- endometrial$HG
pll <- function(b) { eta <- X %*% b; pr <- plogis(eta)
  sum(yy * eta - log1p(exp(eta))) + 0.5 * determinant(crossprod(X * sqrt(as.vector(pr * (1 - pr)))))$modulus }
top <- as.numeric(pll(coef(fit)))
p(top)
cmax <- function(j, v) { free <- setdiff(seq_len(ncol(X)), j)
  f <- function(bf) { b <- numeric(ncol(X)); b[free] <- bf; b[j] <- v; -as.numeric(pll(b)) }
  o <- optim(coef(fit)[free], f, method = "BFGS", control = list(reltol = 1e-16, maxit = 10000))
  o <- optim(o$par, f, method = "Nelder-Mead", control = list(reltol = 1e-16, maxit = 20000))
  o <- optim(o$par, f, method = "BFGS", control = list(reltol = 1e-16, maxit = 10000))
  -o$value }
for (j in 2:4) { chi <- 2 * (top - cmax(j, 0)); p(colnames(X)[j], chi, pchisq(chi, 1, lower.tail = FALSE)) }
q <- qchisq(0.95, 1)
for (j in 2:4) { b <- coef(fit)[j]; se <- sqrt(diag(vcov(fit)))[j]
  g <- function(v) 2 * (top - cmax(j, v)) - q
  lo <- uniroot(g, c(b - 8 * se, b), tol = 1e-10)$root; hi <- uniroot(g, c(b, b + 8 * se), tol = 1e-10)$root
  p(colnames(X)[j], lo, hi) }
# The ordinary fit separates (NV: no low-grade case with neovasculation); glm says so by
# diverging:
g <- suppressWarnings(glm(HG ~ NV + PI + EH, family = binomial, data = endometrial))
p(coef(g))
