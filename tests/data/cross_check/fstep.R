# SPSS LOGISTIC REGRESSION /METHOD=FSTEP by hand in R, written for the cross-check
# (tests/test_cross_check*.py); independent of hmip and of tests/data/stepwise/reference.R.
# Sourced by example_reference.R and datasets_reference.R.
#
# Entry: Rao score test (U'S^-1 U at the MLE, checked against add1(test = "Rao")),
# smallest p < pin (ties: first in candidate order).
# Removal: drop1(test = "LRT") (or Wald b'V^-1 b), largest p > pout, repeated after each
# removal. Stop when nothing qualifies or the next model was already the current model at
# some step. Fits: glm(binomial, epsilon = 1e-14, maxit = 100).
# Output: key/value rows (values as %.17g) that the test rebuilds from hmip's JSON.
ctl <- glm.control(epsilon = 1e-14, maxit = 100)
ctl_exact <- glm.control(epsilon = 1e-30, maxit = 30)
Z975 <- 1.959963984540054
num <- function(x) if (is.character(x)) x else sprintf("%.17g", x)

# Parameters of a term: hmip's names "term(level)" for factors, the term itself for numbers.
param_names <- function(d, term) {
  x <- d[[term]]
  if (!is.factor(x)) return(term)
  cm <- contrasts(x)
  paste0(term, "(", colnames(cm), ")")
}
design_cols <- function(d, term) {
  mm <- model.matrix(reformulate(term), d)[, -1, drop = FALSE]
  colnames(mm) <- param_names(d, term)
  mm
}

# Score (Rao) statistic for adding the columns Xnew to the fitted model, at its estimates.
score_stat <- function(fit, Xnew) {
  X <- model.matrix(fit); mu <- fitted(fit); w <- mu * (1 - mu); r <- fit$y - mu
  U <- crossprod(Xnew, r); I21 <- crossprod(Xnew, w * X)
  S <- crossprod(Xnew, w * Xnew) - I21 %*% solve(crossprod(X, w * X), t(I21))
  as.numeric(t(U) %*% solve(S, U))
}
# Entry scores of the terms `rest`, cross-checked against add1(test = "Rao").
rao_terms <- function(fit, cur, rest) {
  d <- fit$data
  st <- sapply(rest, function(t) score_stat(fit, design_cols(d, t)))
  df <- sapply(rest, function(t) ncol(design_cols(d, t)))
  a <- suppressWarnings(add1(fit, scope = reformulate(c(cur, rest)), test = "Rao"))
  stopifnot(all(abs(a[rest, "Rao score"] - st) <= 1e-6 * pmax(1, st)), all(a[rest, "Df"] == df))
  names(st) <- rest; names(df) <- rest
  list(stat = st, df = df, p = pchisq(st, df, lower.tail = FALSE))
}

# lp_separation: a fit that looks separated (extreme fitted values) is only called separated
# when 30 more Newton iterations still move its coefficients (under separation they grow
# without bound, about +1 per iteration on the log scale; at an MLE they stay put): a
# strong covariate can put a case at p-hat < 1e-8 while the MLE exists (airquality).
fstep_kv <- function(d, y, cands, pin = 0.05, pout = 0.10, removal = "lr", cut = 0.5, prefix = "",
                     lp_separation = FALSE) {
  rows <- list()
  put <- function(k, v) rows[[length(rows) + 1]] <<- c(paste0(prefix, k), num(v))
  n_total <- nrow(d)
  d <- d[complete.cases(d[, c(y, cands)]), , drop = FALSE]
  n <- nrow(d)
  put("n", n); put("n_dropped", n_total - n)
  ordered <- function(m) cands[cands %in% m]
  # Terms in candidate order, so coefficients line up with the parameter names.
  # Polishing: glm's $weights (used by summary/vcov) are those at the START of its last
  # iteration, and add1/drop1 refit the current model from scratch with object$control and
  # use that refit's weights. At epsilon = 1e-14 that leaves S.E.s and Rao scores off by
  # ~1e-8 (drugs/availability: gender's score 0.0159197731 by add1 vs 0.0159197443 at the
  # exact MLE, the group proportions; a constant-only S.E. off by 3e-8, i.e. 2e-6 relative
  # on its p of 2e-30). So each fit is continued from its coefficients to exact
  # stationarity (epsilon 1e-30: stops when the deviance no longer changes in floating
  # point, a few iterations, or after 30 if it flickers in the last bit)
  # and that control is kept in the object for add1/drop1.
  fitm <- function(m) {
    fml <- reformulate(if (length(m)) ordered(m) else "1", y)
    f <- suppressWarnings(glm(fml, binomial, d, control = ctl))
    separated <- !f$converged || any(pmin(fitted(f), 1 - fitted(f)) < 1e-8)
    if (separated && lp_separation && f$converged) {
      g <- suppressWarnings(glm(fml, binomial, d, control = ctl_exact, start = coef(f)))
      separated <- any(abs(coef(g) - coef(f)) > 1e-6 * (1 + abs(coef(f))))
    }
    if (!separated) {
      f <- suppressWarnings(glm(fml, binomial, d, control = ctl_exact, start = coef(f)))
      X <- model.matrix(f)  # score equations hold (relative to each column's size)
      stopifnot(max(abs(crossprod(X, f$y - fitted(f))) / colSums(abs(X))) < 1e-12)
    }
    f$separated <- separated
    f
  }
  visited <- list(character(0))
  seen <- function(m) any(vapply(visited, function(v) setequal(v, m), TRUE))
  fit0 <- fitm(character(0)); ll0 <- as.numeric(logLik(fit0))
  # everything SPSS prints for the current model at step k
  report <- function(k, fit, cur, prev_ll) {
    s <- paste0("s", k, ".")
    ll <- as.numeric(logLik(fit))
    put(paste0(s, "terms"), paste(ordered(cur), collapse = ","))
    put(paste0(s, "m2ll"), -2 * ll)
    cs <- 1 - exp((ll0 - ll) * 2 / n)
    put(paste0(s, "cs"), cs); put(paste0(s, "nk"), cs / (1 - exp(2 * ll0 / n)))
    if (k > 0) {
      put(paste0(s, "model_chi2"), 2 * (ll - ll0))
      put(paste0(s, "step_chi2"), 2 * (ll - prev_ll))
    }
    # Variables in the Equation
    cf <- summary(fit)$coefficients; V <- vcov(fit)
    pn <- c("Constant", unlist(lapply(ordered(cur), function(t) param_names(d, t))))
    for (i in seq_len(nrow(cf))) {
      b <- cf[i, 1]; se <- cf[i, 2]; w <- (b / se)^2
      q <- paste0(s, "vie.", pn[i], ".")
      put(paste0(q, "b"), b); put(paste0(q, "se"), se); put(paste0(q, "wald"), w)
      put(paste0(q, "p"), pchisq(w, 1, lower.tail = FALSE)); put(paste0(q, "exp_b"), exp(b))
      if (i > 1) { put(paste0(q, "ci_low"), exp(b - Z975 * se)); put(paste0(q, "ci_high"), exp(b + Z975 * se)) }
    }
    asg <- attr(model.matrix(fit), "assign")
    for (j in seq_along(ordered(cur))) {
      k_ <- which(asg == j)
      if (length(k_) > 1) {  # joint Wald row of a k > 2 level factor
        b <- coef(fit)[k_]; w <- as.numeric(t(b) %*% solve(V[k_, k_]) %*% b)
        q <- paste0(s, "vie.", ordered(cur)[j], ".")
        put(paste0(q, "wald"), w); put(paste0(q, "df"), length(k_))
        put(paste0(q, "p"), pchisq(w, length(k_), lower.tail = FALSE))
      }
    }
    # Variables not in the Equation: score statistics U'S^-1U at the (polished) MLE, per
    # term and per indicator; residual chi-square over all columns not in the model.
    # add1(test = "Rao") and anova(test = "Rao") give the same to ~1e-8 (they refit the
    # model from scratch, and a deviance-based stop pins beta only to ~sqrt(machine eps),
    # so their weights are that far off): checked below, to 1e-6.
    rest <- setdiff(cands, cur)
    if (length(rest)) {
      a <- rao_terms(fit, cur, rest)
      for (t in rest) {
        q <- paste0(s, "score.", t, ".")
        put(paste0(q, "stat"), a$stat[t]); put(paste0(q, "df"), a$df[t]); put(paste0(q, "p"), a$p[t])
      }
      for (t in rest) {
        Xt <- design_cols(d, t)
        if (ncol(Xt) < 2) next
        for (c_ in colnames(Xt)) {
          st <- score_stat(fit, Xt[, c_, drop = FALSE])
          put(paste0(s, "score.", c_, ".stat"), st); put(paste0(s, "score.", c_, ".p"), pchisq(st, 1, lower.tail = FALSE))
        }
      }
      Xr <- do.call(cbind, lapply(rest, function(t) design_cols(d, t)))
      ov <- score_stat(fit, Xr)
      full <- suppressWarnings(glm(reformulate(ordered(c(cur, rest)), y), binomial, d, control = ctl))
      ova <- anova(fit, full, test = "Rao")$Rao[2]
      stopifnot(abs(ova - ov) <= 1e-6 * max(1, ov))
      put(paste0(s, "overall.stat"), ov); put(paste0(s, "overall.df"), ncol(Xr))
      put(paste0(s, "overall.p"), pchisq(ov, ncol(Xr), lower.tail = FALSE))
    }
    # Model if Term Removed
    if (length(cur)) {
      dr <- suppressWarnings(drop1(fit, test = "LRT"))
      for (t in ordered(cur)) {
        q <- paste0(s, "mitr.", t, ".")
        put(paste0(q, "ll"), ll - dr[t, "LRT"] / 2); put(paste0(q, "chg"), dr[t, "LRT"])
        put(paste0(q, "df"), dr[t, "Df"]); put(paste0(q, "p"), dr[t, "Pr(>Chi)"])
      }
    }
    # Classification table, predicted event when p-hat >= cut (IBM, LOGISTIC REGRESSION
    # CRITERIA subcommand: "A case is assigned to a group when the predicted event
    # probability is greater than or equal to the cutoff value"). A pattern with exactly
    # half events has p-hat = .5 exactly; glm's fitted value lands an ulp or more either
    # side, so p-hat within 1e-10 of the cut counts as on it (an event, as hmip).
    pr <- fitted(fit) >= cut - 1e-10; yy <- fit$y == 1
    put(paste0(s, "class.nn"), sum(!yy & !pr)); put(paste0(s, "class.ne"), sum(!yy & pr))
    put(paste0(s, "class.en"), sum(yy & !pr)); put(paste0(s, "class.ee"), sum(yy & pr))
    put(paste0(s, "class.pct"), 100 * mean(yy == pr))
    ll
  }
  removal_stats <- function(fit, cur) {
    cur <- ordered(cur)
    if (removal == "lr") {
      dr <- suppressWarnings(drop1(fit, test = "LRT")); st <- dr[cur, "LRT"]; df <- dr[cur, "Df"]
    } else if (removal == "conditional") {
      # SPSS FSTEP(COND) (Lawless & Singhal 1978): conditional estimates of the other
      # parameters b_r - V_ri V_ii^-1 b_i, statistic -2 (L(conditional) - L(MLE))
      X <- model.matrix(fit); asg <- attr(X, "assign"); b <- coef(fit); V <- vcov(fit)
      lik <- function(eta) sum(fit$y * eta - log1p(exp(eta)))
      st <- sapply(seq_along(cur), function(j) { i <- which(asg == j)
        br <- b[-i] - V[-i, i, drop = FALSE] %*% solve(V[i, i, drop = FALSE], b[i])
        -2 * (lik(X[, -i, drop = FALSE] %*% br) - lik(X %*% b)) })
      df <- sapply(seq_along(cur), function(j) sum(asg == j))
    } else {  # Wald b'V^-1 b over the term's parameters ((B/SE)^2 for one parameter)
      asg <- attr(model.matrix(fit), "assign")
      st <- sapply(seq_along(cur), function(j) { k_ <- which(asg == j); b <- coef(fit)[k_]
        as.numeric(t(b) %*% solve(vcov(fit)[k_, k_, drop = FALSE]) %*% b) })
      df <- sapply(seq_along(cur), function(j) sum(asg == j))
    }
    names(st) <- cur; names(df) <- cur
    list(stat = st, df = df, p = pchisq(st, df, lower.tail = FALSE))
  }
  step <- 0; cur <- character(0); fit <- fit0; path <- character(0); stop <- "exhausted"
  prev <- report(0, fit0, cur, ll0)
  put_step <- function(k, action, term, st, df, p) {
    s <- paste0("s", k, ".")
    put(paste0(s, "action"), action); put(paste0(s, "term"), term)
    put(paste0(s, "stat"), st); put(paste0(s, "df"), df); put(paste0(s, "p"), p)
  }
  separated <- FALSE
  repeat {
    rest <- setdiff(cands, cur)
    if (!length(rest)) { stop <- "exhausted"; break }
    a <- rao_terms(fit, cur, rest)
    best <- rest[which.min(a$p)]
    if (a$p[best] >= pin) { stop <- "entry"; break }
    if (seen(c(cur, best))) { stop <- "repeat"; break }
    cur <- c(cur, best); visited[[length(visited) + 1]] <- cur; step <- step + 1
    put_step(step, "enter", best, a$stat[best], a$df[best], a$p[best])
    path <- c(path, paste0("enter:", best))
    fit <- fitm(cur)
    if (fit$separated) { separated <- TRUE; stop <- "separation"; break }
    prev <- report(step, fit, cur, prev)
    repeat {
      rs <- removal_stats(fit, cur)
      worst <- names(rs$p)[which.max(rs$p)]
      if (removal != "lr") for (t in names(rs$p)) {
        put(paste0("s", step, ".mitr.", t, ".removal_stat"), rs$stat[t]); put(paste0("s", step, ".mitr.", t, ".removal_p"), rs$p[t])
      }
      if (rs$p[worst] <= pout) break
      reduced <- setdiff(cur, worst)
      if (seen(reduced)) { stop <- "repeat"; break }
      cur <- reduced; visited[[length(visited) + 1]] <- cur; step <- step + 1
      put_step(step, "remove", worst, rs$stat[worst], rs$df[worst], rs$p[worst])
      path <- c(path, paste0("remove:", worst))
      fit <- fitm(cur)
      prev <- report(step, fit, cur, prev)
    }
    if (stop == "repeat") break
  }
  put("path", paste(path, collapse = ";")); put("stop", stop); put("reliable", if (separated) "false" else "true")
  put("final_terms", paste(ordered(cur), collapse = ","))
  out <- as.data.frame(do.call(rbind, rows), stringsAsFactors = FALSE)
  names(out) <- c("key", "value")
  out
}
