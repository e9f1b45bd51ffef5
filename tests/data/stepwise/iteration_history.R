# Reference for SPSS's iteration history (/PRINT=ITER; tests/test_stepwise_iteration_history.py).
# Run from the repository root: Rscript tests/data/stepwise/iteration_history.R
#
# An independent Newton-Raphson for the logit model, started as SPSS starts (Block 0: B = 0;
# a model with predictors: constant = qlogis(mean(y)), the rest 0), stopping by SPSS's
# BCON rule (every |change in B| < .001, at most 20 iterations) or run for a fixed number of
# iterations. Each iterate is checked against R's own glm.fit from the same start stopped
# after k iterations (glm(..., start =, control = glm.control(maxit = k))): for the canonical
# logit link IRLS is Newton-Raphson, so the two agree to rounding.
options(digits = 17)
nr <- function(X, y, start, bcon = 0.001, maxit = 20, fixed = FALSE) {
  b <- start
  rows <- list()
  for (it in seq_len(maxit)) {
    p <- plogis(drop(X %*% b))
    step <- solve(crossprod(X * (p * (1 - p)), X), crossprod(X, y - p))
    b <- b + drop(step)
    eta <- drop(X %*% b)
    m2ll <- -2 * sum(y * eta - log1p(exp(eta)))
    rows[[it]] <- c(it, m2ll, b)
    if (!fixed && max(abs(step)) < bcon) break
  }
  do.call(rbind, rows)
}
check_glm <- function(formula, data, start, rows) {
  for (k in seq_len(nrow(rows))) {
    g <- suppressWarnings(glm(formula, binomial, data, start = start,
      control = glm.control(maxit = k, epsilon = 1e-300)))
    stopifnot(max(abs(coef(g) - rows[k, -(1:2)])) < 1e-9,
              abs(deviance(g) - rows[k, 2]) < 1e-9)
  }
}
show <- function(label, rows) {
  cat(label, "\n")
  for (i in seq_len(nrow(rows)))
    cat("    (", rows[i, 1], ", ", sprintf("%.15g", rows[i, 2]), ", (",
        paste(sprintf("%.15g", rows[i, -(1:2)]), collapse = ", "), ")),\n", sep = "")
}
run <- function(label, formula, data, block0 = FALSE, fixed = FALSE, maxit = 20) {
  X <- model.matrix(formula, data)
  y <- model.response(model.frame(formula, data))
  start <- if (block0) 0 else c(qlogis(mean(y)), rep(0, ncol(X) - 1))
  rows <- nr(X, y, start, maxit = maxit, fixed = fixed)
  check_glm(formula, data, start, rows)
  cat("initial -2LL", sprintf("%.15g", -2 * sum(y * drop(X %*% start) -
    log1p(exp(drop(X %*% start))))), "\n")
  show(label, rows)
}

# UCLA admissions (tests/data/spss/admissions.txt: gre gpa rank admit, admit coded 4/9 as in
# PSPP's logistic.at, 9 = admitted), rank categorical, indicator coding with the last
# category as reference (SPSS's default).
ad <- read.table("tests/data/spss/admissions.txt", col.names = c("gre", "gpa", "rank", "admit"))
ad$admit <- as.integer(ad$admit == 9)
ad$rank <- factor(ad$rank); contrasts(ad$rank) <- contr.treatment(4, base = 4)
run("admissions Block 0 (SPSS rule)", admit ~ 1, ad, block0 = TRUE)
run("admissions Block 1 ENTER gre gpa rank (SPSS rule)", admit ~ gre + gpa + rank, ad)
run("admissions Block 1, 7 plain Newton iterations", admit ~ gre + gpa + rank, ad,
    fixed = TRUE, maxit = 7)

# MASS::birthwt (tests/data/stepwise/birthwt.csv): /METHOD=ENTER race /METHOD=FSTEP(LR)
# lwt smoke ptd ht ui; each step's model (the path hmip and tests/data/stepwise/blocks.R find).
bw <- read.csv("tests/data/stepwise/birthwt.csv")
bw$race <- factor(bw$race); contrasts(bw$race) <- contr.treatment(3, base = 3)
run("birthwt Block 0", low ~ 1, bw, block0 = TRUE)
run("birthwt step 1: race", low ~ race, bw)
run("birthwt step 2: race ptd", low ~ race + ptd, bw)
run("birthwt step 3: race smoke ptd", low ~ race + smoke + ptd, bw)
run("birthwt step 4: race smoke ptd ht", low ~ race + smoke + ptd + ht, bw)
run("birthwt step 5: race lwt smoke ptd ht", low ~ race + lwt + smoke + ptd + ht, bw)
