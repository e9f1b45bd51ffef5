# Cluster-robust (CR1) references for tests/test_stepwise_robust.py.
# Run from the repo root:  Rscript tests/data/robust/reference.R
# thinking_delivery.csv: the example's thinking/delivery applicable cases with every
# candidate recorded (what `hmip regress --factor thinking --measure delivery` fits);
# infert.csv: datasets::infert with its matched-set stratum (83 clusters).
library(sandwich)
p <- function(...) print(c(...), digits = 15)
d <- read.csv("tests/data/robust/thinking_delivery.csv", stringsAsFactors = FALSE)
d$age_group <- factor(d$age_group, levels = c("under_30", "30_plus"))   # reference last
d$supervision <- factor(d$supervision, levels = c("community", "post_custody"))
d$ogrs_group <- factor(d$ogrs_group, levels = c("low_medium", "high_very_high"))
for (v in c("age_group", "ogrs_group")) contrasts(d[[v]]) <- contr.treatment(2, base = 2)
fit <- glm(thinking_delivered ~ age_group + ogrs_group, family = binomial, data = d,
           control = glm.control(epsilon = 1e-14, maxit = 100))
p(coef(fit))
v <- vcovCL(fit, cluster = ~inspection, type = "HC1")
p(sqrt(diag(v)))
p(length(unique(d$inspection)))
write.csv(infert, "tests/data/robust/infert.csv", row.names = FALSE)
e <- infert; e$education <- factor(as.character(e$education))  # text order, as hmip: 0-5yrs, 12+ yrs, 6-11yrs
contrasts(e$education) <- contr.treatment(3, base = 3)  # reference last = 6-11yrs
fit2 <- glm(case ~ education + spontaneous + induced + age + parity, family = binomial, data = e,
            control = glm.control(epsilon = 1e-14, maxit = 100))
p(coef(fit2))
v2 <- vcovCL(fit2, cluster = ~stratum, type = "HC1")
p(sqrt(diag(v2)))
b <- coef(fit2)[2:3]; w <- as.numeric(t(b) %*% solve(v2[2:3, 2:3]) %*% b)
p(w, pchisq(w, 2, lower.tail = FALSE))
# HC0 (no (n-1)/(n-k)) for comparison: vcovCL's default for glm
p(sqrt(diag(vcovCL(fit2, cluster = ~stratum))))
