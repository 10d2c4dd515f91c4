package dev.shootdown.iommu;

import dev.shootdown.scenario.Scenario.DmaProgram;
import java.util.TreeMap;

/**
 * A device behind the IOMMU, bound to an mm's PASID: its ATC (when it has PCIe ATS), its DMA
 * program and where it is in it, and what it waits for.
 */
final class Device {
    final String id;
    final int pasid;
    final long mm;
    final boolean ats;
    final DmaProgram dma;
    final TreeMap<Long, Entry> atc = new TreeMap<>();
    long cursor;
    Wait wait = Wait.READY;

    /** What a device's DMA engine waits for: nothing, a page-table walk, or a page response (PRI). */
    enum Wait { READY, WALK, PRI }

    Device(String id, int pasid, long mm, boolean ats, DmaProgram dma) {
        this.id = id;
        this.pasid = pasid;
        this.mm = mm;
        this.ats = ats;
        this.dma = dma;
    }

    long nextVa() {
        return dma.va(cursor);
    }

    /** Its access completed or was aborted: on to the next address of its program. */
    void accessDone() {
        wait = Wait.READY;
        cursor++;
    }
}
