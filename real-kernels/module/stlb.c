// SPDX-License-Identifier: GPL-2.0
/*
 * stlb: a software "secondary TLB" with no hardware behind it.
 *
 * Opening /proc/stlb registers an mmu_notifier on the opener's mm; closing it unregisters the
 * notifier. The callbacks only call trace_printk, so a trace shows when the kernel asks a
 * secondary TLB to invalidate what, next to its CPU TLB flushes (see ../README.md and
 * ../../docs/real-kernels.md). The function names are part of the trace format: ftrace prints
 * the caller of trace_printk as the event name (stlb_open, stlb_release, stlb_invalidate_range,
 * stlb_start, stlb_end, stlb_secondary), and the importer reads the messages.
 *
 * Kernels before 6.6 call ->invalidate_range (from the range_end of every invalidation and
 * after each CPU flush of an mmu_gather), 6.6 and later ->arch_invalidate_secondary_tlbs
 * (from the architecture's TLB flush); 6.6 and later refuse a notifier that has both
 * ->arch_invalidate_secondary_tlbs and ->invalidate_range_start/end.
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/mm_types.h>
#include <linux/mmu_notifier.h>
#include <linux/proc_fs.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/version.h>

struct stlb {
	struct mmu_notifier mn;
	struct mm_struct *mm;
};

static void stlb_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	trace_printk("stlb release mm=%lx\n", (unsigned long)mm);
}

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 6, 0)
static void stlb_invalidate_range(struct mmu_notifier *mn, struct mm_struct *mm,
				  unsigned long start, unsigned long end)
{
	trace_printk("stlb invalidate_range mm=%lx start=%lx end=%lx\n",
		     (unsigned long)mm, start, end);
}

static int stlb_start(struct mmu_notifier *mn, const struct mmu_notifier_range *range)
{
	trace_printk("stlb range_start mm=%lx start=%lx end=%lx event=%d\n",
		     (unsigned long)range->mm, range->start, range->end, (int)range->event);
	return 0;
}

static void stlb_end(struct mmu_notifier *mn, const struct mmu_notifier_range *range)
{
	trace_printk("stlb range_end mm=%lx start=%lx end=%lx\n",
		     (unsigned long)range->mm, range->start, range->end);
}

static const struct mmu_notifier_ops stlb_ops = {
	.release = stlb_release,
	.invalidate_range = stlb_invalidate_range,
	.invalidate_range_start = stlb_start,
	.invalidate_range_end = stlb_end,
};
#else
static void stlb_secondary(struct mmu_notifier *mn, struct mm_struct *mm,
			   unsigned long start, unsigned long end)
{
	trace_printk("stlb arch_invalidate_secondary_tlbs mm=%lx start=%lx end=%lx\n",
		     (unsigned long)mm, start, end);
}

static const struct mmu_notifier_ops stlb_ops = {
	.release = stlb_release,
	.arch_invalidate_secondary_tlbs = stlb_secondary,
};
#endif

static int stlb_open(struct inode *inode, struct file *file)
{
	struct stlb *s;
	int err;

	if (!current->mm)
		return -EINVAL;
	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return -ENOMEM;
	s->mn.ops = &stlb_ops;
	s->mm = current->mm;
	err = mmu_notifier_register(&s->mn, s->mm);
	if (err) {
		kfree(s);
		return err;
	}
	file->private_data = s;
	trace_printk("stlb bound mm=%lx\n", (unsigned long)s->mm);
	return 0;
}

static int stlb_close(struct inode *inode, struct file *file)
{
	struct stlb *s = file->private_data;

	/* Calls ->release only if the mm's exit has not already done so. */
	mmu_notifier_unregister(&s->mn, s->mm);
	kfree(s);
	return 0;
}

static const struct proc_ops stlb_proc_ops = {
	.proc_open = stlb_open,
	.proc_release = stlb_close,
};

static struct proc_dir_entry *stlb_entry;

static int __init stlb_init(void)
{
	stlb_entry = proc_create("stlb", 0444, NULL, &stlb_proc_ops);
	return stlb_entry ? 0 : -ENOMEM;
}

static void __exit stlb_exit(void)
{
	proc_remove(stlb_entry);
}

module_init(stlb_init);
module_exit(stlb_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("a software secondary TLB behind an mmu_notifier, seen only through trace_printk");
