-- honest_spec.lua: a WDK name dmalab does not provide is an error saying so,
-- not a nil a driver calls ("attempt to call a nil value") or passes on: on
-- the module, on a table dma.export fills and on dmalab's global table. The
-- values a driver passes to the I/O manager and the framework exist with the
-- WDK's values; NULL-valued names are nil; every other name is a plain nil.
local dma = require "dma"

local DMALAB = os.getenv("DMALAB") or "bin/dmalab"

-- Routines of every prefix (and macros) that the lab does not model.
local ROUTINES = { "IoFooBar", "IoWMIRegistrationControl", "KeBugCheckEx", "MmMapVideoDisplay",
                   "ExRaiseStatus", "RtlStringCbPrintfA", "WdfUsbTargetDeviceCreate",
                   "HalTranslateBusAddress", "ZwQueryValueKey", "ObReferenceObjectByHandle",
                   "PsCreateSystemThread", "CONTAINING_RECORD",
                   "WDF_USB_DEVICE_SELECT_CONFIG_PARAMS_INIT_SINGLE_INTERFACE" }
-- WDK-style values that the lab does not export.
local CONSTANTS = { "FILE_DEVICE_NOT_A_TYPE", "NonPagedPoolSessionNx", "METHOD_NOT_A_METHOD" }
-- Names that are not WDK names: plain nil, as Lua has them.
local OTHERS = { "foo", "pirnt", "MY_LIMIT", "DEBUG", "Example", "KeepGoing", "Io", "x_y" }

-- The error reading t[name] raises (nil when it raises none).
local function read_error(t, name)
  local ok, err = pcall(function() return t[name] end)
  if ok then return nil end
  return err
end

-- Checks the not-modelled errors and plain nils on the table t.
local function check_honest(t)
  for _, name in ipairs(ROUTINES) do
    local err = read_error(t, name)
    assert(err, name .. " read without an error")
    local want = name .. " is a WDK routine dmalab does not model yet"
    assert(err:sub(-#want) == want and err:match("^tests/lua/honest_spec%.lua:%d+: ") , err)
    local ok, cerr = pcall(function() t[name](1, 2) end)
    assert(not ok and cerr:find(name .. " is a WDK routine dmalab does not model yet", 1, true), cerr)
    assert.is_nil(rawget(t, name))
  end
  for _, name in ipairs(CONSTANTS) do
    local err = read_error(t, name)
    assert(err and err:find(name .. " is a WDK constant dmalab does not model yet", 1, true), name)
  end
  for _, name in ipairs(OTHERS) do
    assert.is_nil(read_error(t, name), name)
    assert.is_nil(t[name], name)
  end
  assert.is_nil(t[1])
  assert.is_nil(t[true])
end

describe("unmodelled WDK names", function()
  it("are an error naming the routine or constant on the module", function()
    check_honest(dma)
    assert(read_error(dma, "RtlZeroMemorx"))  -- a typo of a WDK name reads as one
  end)

  it("are an error on a table dma.export fills", function()
    local env = dma.export({})
    check_honest(env)
    assert.are.equal(dma.IoGetDmaAdapter, env.IoGetDmaAdapter)
    assert.is_nil(env.print)  -- the table has only what it was given
  end)

  it("keep a table's own __index first, and are set once", function()
    local fallback = { own = 1, IoOwnRoutine = 2 }
    local env = setmetatable({}, { __index = fallback })
    dma.export(env)
    dma.export(env)
    assert.are.equal(1, env.own)
    assert.are.equal(2, env.IoOwnRoutine)
    check_honest(env)
    local f = setmetatable({}, { __index = function(_, k) return k == "WdfMine" and "mine" or nil end })
    dma.export(f)
    assert.are.equal("mine", f.WdfMine)
    assert(read_error(f, "WdfTheirs"))
  end)

  it("are an error on the global table (dma.export's default)", function()
    dma.export()
    check_honest(_G)
    assert.are.equal(print, _G.print)
    local chunk = load("return IoFooBar()", "=driver", "t", _G)
    local ok, err = pcall(chunk)
    assert.is_false(ok)
    assert.are.equal("driver:1: IoFooBar is a WDK routine dmalab does not model yet", err)
  end)

  it("are an error on dmalab's global table", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write([[
local function try(name) local ok, err = pcall(function() return _G[name] end) return ok and "nil" or err end
print(try("KeBugCheckEx"))
print(try("FILE_DEVICE_NOT_A_TYPE"))
print(try("not_a_wdk_name"), WDF_NO_OBJECT_ATTRIBUTES, FILE_DEVICE_SECURE_OPEN)
WdfUsbTargetDeviceCreate(nil)
]])
    f:close()
    local p = assert(io.popen(("%s %s 2>&1"):format(DMALAB, path)))
    local out = p:read("a")
    local ok = p:close()
    os.remove(path)
    assert.is_falsy(ok)
    local function has(s) return out:find(s, 1, true) end
    assert.truthy(has("KeBugCheckEx is a WDK routine dmalab does not model yet"), out)
    assert.truthy(has("FILE_DEVICE_NOT_A_TYPE is a WDK constant dmalab does not model yet"), out)
    assert.truthy(has("nil\tnil\t256"), out)
    assert.truthy(has(":5: WdfUsbTargetDeviceCreate is a WDK routine dmalab does not model yet"), out)
  end)

  it("leave help working: an unmodelled name has no help, and no error", function()
    package.preload["dma.help"] = package.preload["dma.help"]
                                  or function() return dofile("repl/lua/help.lua") end
    local help = require "dma.help"
    assert.is_nil(help.lookup("KeBugCheckEx"))
    assert.are.equal("constant", help.lookup("FILE_DEVICE_SECURE_OPEN").kind)
    assert.are.equal("CTL_CODE", help.lookup(dma.CTL_CODE).name)
    assert.are.equal("constant", help.lookup("WDF_NO_OBJECT_ATTRIBUTES").kind)
  end)
end)

describe("the values a driver passes", function()
  it("have the WDK's values", function()
    assert.are.equal(0x100, dma.FILE_DEVICE_SECURE_OPEN)
    assert.are.equal(0x22, dma.FILE_DEVICE_UNKNOWN)
    assert.are.equal(0x07, dma.FILE_DEVICE_DISK)
    assert.are.equal(0x12, dma.FILE_DEVICE_NETWORK)
    assert.are.equal(0x1b, dma.FILE_DEVICE_SERIAL_PORT)
    assert.are.equal(0x17, dma.FILE_DEVICE_PHYSICAL_NETCARD)
    assert.are.equal(0, dma.NonPagedPool)
    assert.are.equal(512, dma.NonPagedPoolNx)
    assert.are.equal(1, dma.PagedPool)
    assert.are.equal(1, dma.WdfDeviceIoNeither)
    assert.are.equal(2, dma.WdfDeviceIoBuffered)
    assert.are.equal(3, dma.WdfDeviceIoDirect)
    assert.are.same({ 1, 0, 2 }, { dma.WdfTrue, dma.WdfFalse, dma.WdfUseDefault })
    assert.are.same({ 0, 1, 2, 3 }, { dma.METHOD_BUFFERED, dma.METHOD_IN_DIRECT, dma.METHOD_OUT_DIRECT,
                                      dma.METHOD_NEITHER })
    assert.are.same({ 0, 1, 2 }, { dma.FILE_ANY_ACCESS, dma.FILE_READ_DATA, dma.FILE_WRITE_DATA })
    assert.are.same({ 1, 2 }, { dma.FILE_READ_ACCESS, dma.FILE_WRITE_ACCESS })
  end)

  it("include all 28 IRP major function codes", function()
    local names = { "CREATE", "CREATE_NAMED_PIPE", "CLOSE", "READ", "WRITE", "QUERY_INFORMATION",
                    "SET_INFORMATION", "QUERY_EA", "SET_EA", "FLUSH_BUFFERS", "QUERY_VOLUME_INFORMATION",
                    "SET_VOLUME_INFORMATION", "DIRECTORY_CONTROL", "FILE_SYSTEM_CONTROL", "DEVICE_CONTROL",
                    "INTERNAL_DEVICE_CONTROL", "SHUTDOWN", "LOCK_CONTROL", "CLEANUP", "CREATE_MAILSLOT",
                    "QUERY_SECURITY", "SET_SECURITY", "POWER", "SYSTEM_CONTROL", "DEVICE_CHANGE",
                    "QUERY_QUOTA", "SET_QUOTA", "PNP" }
    assert.are.equal(28, #names)
    for code, name in ipairs(names) do assert.are.equal(code - 1, dma["IRP_MJ_" .. name], name) end
    assert.are.equal(dma.IRP_MJ_PNP, dma.IRP_MJ_MAXIMUM_FUNCTION)
  end)

  it("give the NULL-valued names as nil, without an error", function()
    for _, name in ipairs { "WDF_NO_OBJECT_ATTRIBUTES", "WDF_NO_HANDLE", "WDF_NO_EVENT_CALLBACK",
                            "NULL" } do
      assert.is_nil(read_error(dma, name), name)
      assert.is_nil(dma[name])
    end
  end)

  it("CTL_CODE computes the documented IOCTL layout", function()
    assert.are.equal(0x222000, dma.CTL_CODE(dma.FILE_DEVICE_UNKNOWN, 0x800, dma.METHOD_BUFFERED,
                                            dma.FILE_ANY_ACCESS))
    assert.are.equal(0x226006, dma.CTL_CODE(dma.FILE_DEVICE_UNKNOWN, 0x801, dma.METHOD_OUT_DIRECT,
                                            dma.FILE_READ_DATA))
    assert.are.equal(0x70000, dma.CTL_CODE(dma.FILE_DEVICE_DISK, 0, dma.METHOD_BUFFERED, dma.FILE_ANY_ACCESS))
    assert.has_error(function() dma.CTL_CODE(0x10000, 0, 0, 0) end)
    assert.has_error(function() dma.CTL_CODE(0x22, 0x1000, 0, 0) end)
    assert.has_error(function() dma.CTL_CODE(0x22, 0, 4, 0) end)
    assert.has_error(function() dma.CTL_CODE(0x22, 0, 0, 4) end)
    assert.has_error(function() dma.CTL_CODE(0x22, 0, 0) end)
  end)
end)
