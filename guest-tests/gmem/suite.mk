# SPDX-License-Identifier: GPL-2.0
# Rules the gmem and bench suites share; included after each sets SUITE, SRCDIR, GMEMDIR,
# OUT, KDIR, KSRC, CFLAGS, PROGS and HDRS. One copy of how a suite is laid out in OUT and
# of how the fake peer device gmem_test.ko is built (only for a CONFIG_GMEM=y kernel).

HAVE_GMEM := $(if $(KDIR),$(shell grep -qs '^CONFIG_GMEM=y' $(KDIR)/.config && echo y),)

.PHONY: all progs module clean
all: progs module $(OUT)/run.sh $(OUT)/workloads

progs: $(PROGS)

$(OUT)/bin/%: $(SRCDIR)/src/%.c $(HDRS)
	@mkdir -p $(OUT)/bin
	$(CC) $(CFLAGS) -o $@ $< -lpthread

$(OUT)/run.sh: $(SRCDIR)/run.sh
	@mkdir -p $(OUT)
	cp $< $@
	chmod +x $@

$(OUT)/workloads: $(SRCDIR)/workloads
	@mkdir -p $(OUT)
	cp $< $@

ifeq ($(HAVE_GMEM),y)
module:
	@rm -rf $(OUT)/module $(OUT)/module-not-built
	@mkdir -p $(OUT)/module
	cp $(GMEMDIR)/module/gmem_test.c $(GMEMDIR)/module/Kbuild $(GMEMDIR)/gmem_test_uapi.h $(OUT)/module/
	$(MAKE) -C $(if $(KSRC),$(KSRC),$(KDIR)) $(if $(KSRC),O=$(KDIR),) M=$(OUT)/module \
		$(if $(wildcard $(KDIR)/Module.symvers),,KBUILD_MODPOST_WARN=1) modules
else
module:
	@mkdir -p $(OUT)
	@rm -rf $(OUT)/module
	@echo "$(SUITE): $(if $(KDIR),$(KDIR)/.config has no CONFIG_GMEM=y,KDIR not set): not building gmem_test.ko"
	@echo "$(if $(KDIR),kernel config lacks CONFIG_GMEM,KDIR not given at build time)" > $(OUT)/module-not-built
endif

clean:
	rm -rf $(OUT)
